# CPU claim test of hard mining (Zhang & Yan, ECCV 2020, Sec. 3.3, Table 1), "BCE + self-supervision + hard
# mining" arm with a learned saliency model, as the paper (a trained SOD network): w_hard = 2 on S xor F,
# S = the saliency maps of the training renders predicted by the AFIU SOD model of the AFIU claim test
# (configs/afiu/cpu_experiment/afiu_effnet-lite0_1xb8-300it_pascal-s-160x160.py, trained on PASCAL-S
# 1-750 with masks), written to <data_root>/saliency_afiu by tools/infer.py (recipe in the README).
# Patch swap as the "BCE + self-supervision" arm.
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
data_root = 'work_dirs/exp/pascal_s_renders'
max_iters = 400
model = dict(
    type='PatchSwapEncoderDecoder',
    self_supervision=True,
    patch_size=40,
    lambda_self=0.2,
    hard_mining=True,
    w_hard=2.0)
train_dataloader = dict(
    dataset=dict(data_root=data_root, data_prefix=dict(saliency_map_path='saliency_afiu')))
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
