# Table 2 ablation, "FCN ResNeXt" (paper: CUHK F .917 / MAE .046, DUT F .879 / MAE .080): the
# ResNeXt-101 FCN with auxiliary (side) outputs and PredictionFusion, defocus loss only. Plain
# upsample + conv decoder blocks (UpsampleConvBlock: the SRFB frame without the pyramid), no depth
# branch, no SAB. Trained without depth maps.
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
model = dict(
    decode_head=dict(
        block_cfg=dict(_delete_=True, type='UpsampleConvBlock', reduction=4),
        use_depth=False,
        use_sab=False,
        loss_depth=None))
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(_delete_=True, img_path='train/images', seg_map_path='train/masks')))
