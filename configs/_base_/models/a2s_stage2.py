# A2S stage 2 saliency detector (Zhou et al., TCSVT 2023, Sec. III-B, Eq. 7-12; reference code
# github.com/moothes/A2S-USOD, methods/cornet/model.py and loss.py): MoCo-v2 ResNet-50 encoder,
# fine-tuned (lr x0.1, see the schedule), and RAMHead (five 64-channel adapters, two Residual
# Attention Modules, channel-sum output), trained with BCE + SSIM + IoU (Eq. 12, equal weights).
# Primitive configs set `data_preprocessor.size = crop_size`, the segmentor type
# (`OLREncoderDecoder` + `OLRHook` for training on pseudo labels with Online Label Rectification;
# this plain `EncoderDecoder` for supervised fine-tuning such as sod2dbd) and the dataset.
# Size: 26,348,864 parameters (backbone 23,508,032 + head 2,840,832); the paper's 28.40M and the
# reference count 28,397,864 also include the ResNet-50 fc layer (2,049,000), which the detector
# never uses and ResNetWithStem does not have.
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
        out_indices=(0, 1, 2, 3, 4),  # E1 /2 (stem), E2 /4, E3 /8, E4 /16, E5 /32
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        style='pytorch',
        norm_cfg=norm_cfg,
        norm_eval=False,  # stage 2 fine-tunes the encoder, BN statistics included (reference)
        frozen_stages=-1,
        # MoCo-v2 ResNet-50 (800 epochs) in dbdseg backbone keys, made from the MoCo release by
        #   python tools/model_converters/mocov2_to_dbdseg.py moco_v2_800ep_pretrain.pth.tar \
        #       checkpoints/mocov2_r50_800ep.pth
        # Without it: --cfg-options model.backbone.init_cfg=None (random encoder).
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mocov2_r50_800ep.pth')),
    decode_head=dict(
        type='RAMHead',
        in_channels=(64, 256, 512, 1024, 2048),  # ResNet-18/34: (64, 64, 128, 256, 512)
        in_index=(0, 1, 2, 3, 4),
        input_transform='multiple_select',
        channels=64,  # "we fix all feature dimensions to 64" (Sec. III-B)
        global_channels=128,  # width inside the global path (reference)
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        global_norm_cfg=dict(type='GN', num_groups=64, requires_grad=True),
        use_attention=True,  # False: Table VII "RAM replaced by a convolutional layer" (28.25M)
        global_path=True,
        target_threshold=None,  # soft targets (paper); 0.5 re-binarises them (reference code)
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        align_corners=False,
        loss_decode=[
            dict(
                type='CrossEntropyLoss',
                use_sigmoid=True,
                avg_non_ignore=True,
                loss_weight=1.0,
                loss_name='loss_bce'),
            dict(type='SSIMLoss', window_size=11, sigma=1.5, loss_weight=1.0),
            dict(type='IoULoss', eps=1e-7, smooth=0.0, loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
