# CPU experiment of configs/depth_distillation/README.md ("CPU experiment"): DD's decoder (SRFB blocks,
# SAB attention, defocus + depth side outputs, PredictionFusion; balanced BCE + gamma x MSE depth
# distillation, gamma = 0.1) on a randomly initialised ResNet-18 (ResNeXt-101 is far too slow for 2
# CPU cores and no ImageNet weights are reachable here), 160x160, batch 8, 300 iterations on the
# synthetic defocus renders of tools/demo.sh, whose exact scene depth (depth/<stem>.png) replaces the
# teacher's depth maps. Optimiser and schedule are the CPU demo's (Adam 1e-3, warm-up then linear
# decay), not the paper's SGD 0.005, and are shared with the gamma = 0 arm
# (dd-gamma0_r18_1xb8-300it_synthetic-defocus-160x160.py), which differs only in gamma.
_base_ = [
    '../../_base_/models/depth_distillation.py', '../../_base_/datasets/synthetic_defocus.py',
    '../../_base_/default_runtime.py'
]
crop_size = (160, 160)
data_root = 'work_dirs/demo/data'
max_iters = 300
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True, type='ResNetWithStem', depth=18, init_cfg=None, out_indices=(0, 1, 2, 3, 4)),
    decode_head=dict(in_channels=(64, 64, 128, 256, 512)))
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
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        # the renderer's exact scene depth stands in for the teacher's depth (gt_depth_map)
        data_prefix=dict(img_path='images', seg_map_path='masks', depth_map_path='depth'),
        pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
