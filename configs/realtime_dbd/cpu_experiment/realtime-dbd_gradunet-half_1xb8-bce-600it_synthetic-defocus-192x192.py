# CPU SOD -> DBD transfer experiment (configs/realtime_dbd/README.md, "CPU transfer experiment"):
# the demo's half-width GradientUNet at 192x192, batch 8, Adam 1e-3 with linear decay, 600
# iterations on the synthetic defocus renders from scratch ("DBD only" arm). The fine-tune arm
# (..._sod2dbd_...) is this config started from the PASCAL-S SOD checkpoint of
# ..._pascal-s-192x192.py; only the initial weights differ.
_base_ = '../../demo/realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py'
max_iters = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, save_best=None))
