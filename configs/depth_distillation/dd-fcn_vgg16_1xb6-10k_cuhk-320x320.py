# Table 2 ablation, "FCN VGG" (paper, on VGG19: CUHK F .911 / MAE .053, DUT F .800 / MAE .148):
# the VGG16 FCN with side outputs and PredictionFusion, defocus loss only: plain decoder blocks, no
# depth branch, no SAB. Trained without depth maps.
_base_ = './dd_vgg16_1xb6-10k_cuhk-320x320.py'
model = dict(
    decode_head=dict(
        block_cfg=dict(_delete_=True, type='UpsampleConvBlock', reduction=4),
        use_depth=False,
        use_sab=False,
        loss_depth=None))
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(_delete_=True, img_path='train/images', seg_map_path='train/masks')))
