# CPU experiment of configs/a2s/README.md ("CPU experiment"): stage 1 on the 850 PASCAL-S photos
# WITHOUT their masks, on 2 CPU cores. No MoCo-v2 weights exist on the machines, so the frozen
# encoder is a randomly initialised ResNet-18: this run checks the mechanics (ADB loss, sign flip,
# pseudo-label script), not the paper's numbers. 224x224 inputs, 6 epochs (lr 1, x0.1 after
# epochs 3 and 5), batch 8, horizontal flip, seed 0.
_base_ = '../a2s-stage1_r50-mocov2_1xb8-20e_folder-320x320.py'
crop_size = (224, 224)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, init_cfg=None),
    decode_head=dict(in_channels=[128, 256, 512]))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root='work_dirs/exp/pascal_s',
        data_prefix=dict(img_path='images'),
        pipeline=train_pipeline))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=6, milestones=[3, 5], gamma=0.1)
]
train_cfg = dict(max_epochs=6)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=6))
randomness = dict(seed=0)
