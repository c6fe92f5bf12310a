# Example project (projects/example_project/README.md): TinySharpNet + TinySharpHead trained with
# BCE + soft IoU on synthetic defocus renders at 64x64, 200 iterations of batch 4 (about a minute on
# a CPU). A worked example of a project, not a benchmark model. Run the tools from the repository
# root, so that `projects` is importable (see projects/README.md).
# Paths are relative to this file's folder; the dataset base reads data/synthetic_defocus: override
# the dataloaders' data_root to use another folder (README of this project).
_base_ = [
    '../../../configs/_base_/datasets/synthetic_defocus.py',
    '../../../configs/_base_/default_runtime.py',
]
# Registers TinySharpNet, TinySharpHead and SoftIoULoss (and dbdseg's modules).
custom_imports = dict(
    imports=[
        'dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
        'dbdseg.visualization', 'projects.example_project.example_project'
    ],
    allow_failed_imports=False)

crop_size = (64, 64)
data_root = 'data/synthetic_defocus'
max_iters = 200
val_interval = 100

norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='TinySharpNet',
        in_channels=3,
        base_channels=8,
        num_convs=2,
        use_laplacian=True,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='TinySharpHead',
        in_channels=(8, 16),  # TinySharpNet: (base_channels, 2 * base_channels)
        in_index=(0, 1),
        channels=16,
        num_classes=2,
        out_channels=1,  # one logit: label 1 = in-focus, sigmoid losses
        threshold=0.5,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True,
                 loss_weight=1.0),  # loss_ce
            dict(type='SoftIoULoss', loss_weight=1.0),  # loss_soft_iou
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# The pipelines of the dataset base were written with its crop_size (320): redefine them here.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),  # after Resize: ground truth at the original size
    dict(type='PackBinarySegInputs'),
]
img_ratios = [0.5, 1.0, 1.5]  # tools/test.py --tta: 32, 64, 96 pixels
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(crop_size[1] * r), int(crop_size[0] * r)),
                    keep_ratio=False) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadBinaryAnnotations')],
            [dict(type='PackBinarySegInputs')],
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        # this model does not use the depth maps the dataset base loads: image and mask only
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=val_interval,
        save_best='maxF',
        rule='greater',
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
