# CPU SOD -> DBD transfer experiment (configs/afiu/README.md, "CPU transfer experiment"), "DBD only"
# arm: AFIU (AIMSIMNeck + RSUStackHead, the paper's structure at half its widths: 32-channel EC/D
# maps, SIM(32, 16), RSU mid width 16) on a randomly initialised ResNet-18 (ResNet-50 and the full
# widths are too slow for 2 CPU cores, and no ImageNet weights are reachable here), 160x160,
# batch 8, trained 200 iterations from scratch on the synthetic defocus renders of tools/demo.sh.
# Optimiser and schedule are the CPU demo's (Adam 1e-3, linear warm-up then linear decay), NOT the
# paper's Adam 1e-5 (meant for ImageNet-initialised 150-epoch runs), and are identical for every
# arm (and the same as the real-time model's arms in configs/realtime_dbd/cpu_experiment/), so that
# only the initial weights differ between "DBD only" and "SOD -> DBD".
_base_ = [
    '../../_base_/models/afiu.py', '../../_base_/datasets/synthetic_defocus.py',
    '../../_base_/default_runtime.py'
]
crop_size = (160, 160)
data_root = 'work_dirs/demo/data'
max_iters = 200
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(
        in_channels=(64, 64, 128, 256, 512),
        aim_channels=32,
        aim_mid_channels=(32, 32, 64, 64, 64),
        sim_low_channels=16,
        out_channels=32),
    decode_head=dict(
        in_channels=(32, 32, 32, 32, 32),
        block_channels=(32, 32, 32, 32, 32),
        mid_channels=(16, 16, 16, 16, 16),
        channels=32))
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
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
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
