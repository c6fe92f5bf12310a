# Table 2 ablation, "+D" (paper: CUHK F .922 / MAE .046, DUT F .883 / MAE .077): the FCN row plus
# depth distillation (depth side outputs, depth fusion, 0.1 x MSE to the teacher depth). Plain
# decoder blocks, no SAB. Needs the teacher depth maps (see the primitive config).
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
model = dict(
    decode_head=dict(
        block_cfg=dict(_delete_=True, type='UpsampleConvBlock', reduction=4), use_sab=False))
