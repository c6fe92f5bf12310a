# CPU claim test of SOD -> DBD transfer with the real-time model (AFIU, Qian et al., claims the transfer
# helps every DBD model): the "BCE" arm (realtime-dbd_gradunet-lite_effnet-lite0_1xb8-bce-400it_synthetic-
# defocus-pascal-s-192x192.py) started from the whole model after SOD training on PASCAL-S 1-750
# (realtime-dbd_gradunet-lite_effnet-lite0_1xb8-bce-400it_pascal-s-192x192.py; weights only, fresh
# optimiser and schedule). Same data, iterations and schedule as that arm.
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
load_from = 'work_dirs/cpu_experiment/gradunet-lite_sod/iter_400.pth'
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
# load_from replaces every weight: do not read the ImageNet file first (it is in the SOD checkpoint)
model = dict(backbone=dict(encoder=dict(init_cfg=None)))
