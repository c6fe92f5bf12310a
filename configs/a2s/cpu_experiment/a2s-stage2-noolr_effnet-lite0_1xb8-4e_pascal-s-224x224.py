# A2S CPU claim test (configs/a2s/README.md, "Claim at CPU scale"), "OLR off" arm: the stage-2 config
# a2s-stage2_effnet-lite0_1xb8-4e_pascal-s-224x224.py with online label rectification switched off: the
# OLRHook keeps lambda = 1 in every epoch (warmup_epochs = max_epochs; Eq. 14 of Zhou et al. with
# lambda = 1 leaves each bank row at its stage-1 pseudo label G^1), so RAMHead trains on the fixed
# pseudo labels. Everything else (data, schedule, seed) as that config, which this file repeats because
# inheriting it would make a fourth level of _base_.
_base_ = '../a2s-stage2_r50-mocov2_1xb8-25e_folder-320x320.py'
crop_size = (224, 224)
data_root = 'work_dirs/exp/pascal_s_numeric'
model = dict(
    data_preprocessor=dict(size=crop_size, mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')),
    decode_head=dict(in_channels=(16, 24, 40, 112, 320)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        ann_file='train.txt',
        pipeline=train_pipeline,
        data_prefix=dict(img_path='images', pseudo_label_path='pseudo_labels')))
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PASCALSDataset',
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        ann_file='test.txt',
        set_name='PASCAL-S-test100',
        pipeline=test_pipeline))
test_evaluator = dict(type='SODMetric')
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=4, milestones=[3], gamma=0.1)
]
train_cfg = dict(max_epochs=4)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=4))
randomness = dict(seed=0)
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(
        type='OLRHook',
        warmup_epochs=4,  # = max_epochs: lambda = 1 throughout, no rectification
        lam=0.4,
        warmup_lam=1.0,
        checkpoint_mode='snapshot',
        max_keep_snapshots=2),
]
