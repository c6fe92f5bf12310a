# AFIU (Qian et al.) SOD -> DBD transfer, step 2 ("Ours" in Tables 1-2): the CUHK DBD training of
# afiu_r50_1xb8-32k_cuhk-320x320.py started from the SOD checkpoint of step 1
# (afiu_r50_1xb8-198k_duts-320x320.py), for "about 200" epochs (Sec. 3.3): 15,000 x 8 / 604 = 199.
#   python tools/train.py configs/afiu/afiu_r50_1xb8-198k_duts-320x320.py
#   python tools/train.py THIS_CONFIG --cfg-options load_from=work_dirs/<step-1 work dir>/<ckpt>.pth
# load_from loads the whole model (weights only: fresh optimiser, schedule and iteration counter).
_base_ = './afiu_r50_1xb8-32k_cuhk-320x320.py'
load_from = 'work_dirs/afiu_r50_1xb8-198k_duts-320x320/iter_198000.pth'
# every weight comes from load_from: no ImageNet fetch before it
model = dict(backbone=dict(init_cfg=None))
train_cfg = dict(max_iters=15000)
