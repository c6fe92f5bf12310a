# SOD -> DBD transfer, step 2: the CUHK training of dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py
# (depth distillation on, teacher depth maps needed) started from the DUTS checkpoint of step 1
# (dd_resnext101-32x4d_1xb6-20k_duts-320x320.py). Only the initial weights differ.
#   python tools/train.py configs/depth_distillation/dd_resnext101-32x4d_1xb6-20k_duts-320x320.py
#   python tools/train.py THIS_CONFIG \
#       --cfg-options load_from=work_dirs/<step-1 work dir>/iter_20000.pth
# load_from loads weights only (fresh optimiser, schedule and iteration counter), as mmseg does.
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
load_from = 'work_dirs/dd_resnext101-32x4d_1xb6-20k_duts-320x320/iter_20000.pth'
# every weight comes from load_from: no ImageNet fetch before it (trains offline)
model = dict(backbone=dict(init_cfg=None))
