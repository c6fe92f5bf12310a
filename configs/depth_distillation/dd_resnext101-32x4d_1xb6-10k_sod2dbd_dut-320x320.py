# SOD -> DBD transfer, step 2 on DUT (600 train / 500 test, teacher depth maps needed): the DUT
# training of dd_resnext101-32x4d_1xb6-10k_dut-320x320.py started from the DUTS checkpoint of
# step 1 (dd_resnext101-32x4d_1xb6-20k_duts-320x320.py).
_base_ = './dd_resnext101-32x4d_1xb6-10k_dut-320x320.py'
load_from = 'work_dirs/dd_resnext101-32x4d_1xb6-20k_duts-320x320/iter_20000.pth'
# every weight comes from load_from: no ImageNet fetch before it (trains offline)
model = dict(backbone=dict(init_cfg=None))
