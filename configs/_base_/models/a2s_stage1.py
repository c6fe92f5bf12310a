# A2S stage 1 (Zhou et al., TCSVT 2023, Sec. III-A, Eq. 1-5; reference code
# github.com/moothes/A2S-USOD, methods/mnet/model.py): a frozen MoCo-v2
# ResNet-50 and the activation head (SE blocks on E3, E4, E5, a fusing SE block, activation map,
# adaptive decision boundary, sign flip), trained with the ADB loss only: no labels at all.
# Primitive configs set `data_preprocessor.size = crop_size`.
#
# Encoder freezing: `frozen_stages=4` freezes the stem and all four stages of ResNetWithStem
# (requires_grad=False AND eval mode, so the BatchNorm running statistics keep the MoCo values);
# `norm_eval=True` says the same for every BN. This is dbdseg's default because the paper freezes
# the encoder "to preserve the learned semantic information" (Sec. III-B, Table IV A0), stage 2
# starts again from the MoCo weights and statistics, and batch-8 statistics of 320x320 crops would
# otherwise drift away from the ones the features were learned with. The reference code instead
# gives the encoder lr 0 but leaves it in train mode, so its BN statistics drift (A2S-USOD,
# methods/mnet/config.py and train_stage1.py; see configs/a2s/README.md, "Frozen encoder");
# reproduce that with `--cfg-options model.backbone.frozen_stages=-1 model.backbone.norm_eval=False`
# (the schedule's `lr_mult=0, decay_mult=0` on `backbone` then keeps the weights fixed).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet normalisation, as the reference
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetWithStem',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3, 4),  # stem /2, E2 /4, E3 /8, E4 /16, E5 /32
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        norm_cfg=norm_cfg,
        frozen_stages=4,
        norm_eval=True,
        # MoCo-v2 ResNet-50 (Chen et al. 2020, 800 epochs) in dbdseg backbone keys:
        # download moco_v2_800ep_pretrain.pth.tar from the MoCo repository and convert it with
        #   python tools/model_converters/mocov2_to_dbdseg.py moco_v2_800ep_pretrain.pth.tar \
        #       checkpoints/mocov2_r50_800ep.pth
        # Without it: --cfg-options model.backbone.init_cfg=None (random encoder; see README).
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mocov2_r50_800ep.pth')),
    decode_head=dict(
        type='ActivationHead',
        in_channels=(512, 1024, 2048),  # E3, E4, E5 of ResNet-50 (ResNet-18/34: 128, 256, 512)
        in_index=(2, 3, 4),
        channels=64,
        fuse_size_index=0,  # the fused map F is at the stem's stride 2, as the reference
        se_bottleneck_ratio=None,  # the reference's one-conv SE gate
        aux_loss_weights=(0.1, 0.3, 0.5),  # F3, F4, F5 (F: 1.0); the reference's weights
        loss_at_input_size=False,  # True: loss of F at input size, as the reference code
        fc_weight_scaling=False,  # A2S-USOD v1 quirk, off (configs/a2s/README.md table)
        norm_cfg=dict(type='GN', num_groups=1, requires_grad=True),
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        align_corners=False,
        # Eq. 4: alpha 0.1 (Table V), half of the pixels dropped at random per iteration
        loss_decode=dict(type='ADBLoss', alpha=0.1, drop_ratio=0.5, offset=0.0, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
