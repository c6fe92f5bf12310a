# CPU claim tests of the real-time DBD model (configs/realtime_dbd/README.md, "Claims at CPU scale"),
# "BCE" arm: the demo's ImageNet-pretrained model (EfficientNet-Lite0 + the full-resolution image/gradient
# branch + a light U-Net decoder, configs/demo/gradunet-lite_*) trained with plain BCE for 400 iterations
# (batch 8, 192x192, Adam 1e-3 everywhere, warm-up then linear decay) on synthetic defocus renders of
# PASCAL-S photos 1-750, tested on renders of the held-out photos 751-850 (val.txt). It is the
# "DBD only" arm of the SOD -> DBD transfer test and the "BCE" row of the hard-mining test; every other
# arm differs only in the lines of its own file.
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
data_root = 'work_dirs/exp/pascal_s_renders'
max_iters = 400
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric', dbd_protocols=['dd'])
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, save_best=None))
