# CPU claim test of hard mining (Zhang & Yan, ECCV 2020, Sec. 3.3, Table 1), "BCE + self-supervision" arm:
# patch swap with 40x40 patches (the paper's 64/320 of the image side at 192x192), lambda_s = 0.2, on the
# "BCE" arm's model, data and schedule (..._1xb8-bce-400it_synthetic-defocus-pascal-s-192x192.py).
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
data_root = 'work_dirs/exp/pascal_s_renders'
max_iters = 400
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=40, lambda_self=0.2)
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
