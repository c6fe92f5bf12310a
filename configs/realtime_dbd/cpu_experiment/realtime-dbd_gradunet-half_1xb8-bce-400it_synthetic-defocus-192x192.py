# CPU ablation of Table 1 (Zhang & Yan, ECCV 2020) on synthetic defocus renders: the demo's
# half-width GradientUNet at 192x192 (configs/demo), 400 iterations of batch 8, same seed and budget
# for every variant; trained with plain BCE ("BCE" row). The four variants differ only in the lines
# of their own files. Results and commands: configs/realtime_dbd/README.md ("CPU ablation").
_base_ = '../../demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py'
max_iters = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
