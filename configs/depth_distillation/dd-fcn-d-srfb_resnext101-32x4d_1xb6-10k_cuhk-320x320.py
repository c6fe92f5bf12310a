# Table 2 ablation, "+D+SRFB" (paper: CUHK F .926 / MAE .045, DUT F .888 / MAE .076): depth
# distillation and SRFB decoder blocks, no SAB. Needs the teacher depth maps.
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
model = dict(decode_head=dict(use_sab=False))
