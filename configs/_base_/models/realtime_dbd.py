# Zhang & Yan, "Rethinking the Defocus Blur Detection Problem and A Real-Time Deep DBD Model"
# (ECCV 2020), Fig. 4 / Sec. 3.4: a modified U-Net with image, d/dx and d/dy encoders, trained
# with plain BCE here ("BCE" column of Table 1). The paper's full objective (patch swap +
# self-supervision + hard mining) uses this same network under a different segmentor.
# Widths, skip wiring and the gradient operator are not printed in the paper: the values below
# are dbdseg's reconstruction (configs/realtime_dbd/README.md, GradientUNet docstring).
# Primitive configs set `data_preprocessor.size = crop_size` (crop_size: the dataset base).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,  # the paper trains from scratch (Sec. 4.1)
    backbone=dict(
        type='GradientUNet',
        in_channels=3,
        widths=(16, 32, 64, 128, 256),  # "3x3xt Conv" modules, total stride 16
        decoder_widths=(128, 64, 32, 16),  # "3x3xt Deconv" stages, back to full resolution
        fuse_channels=256,  # the "3x3x256" module
        fuse_num_convs=2,
        decoder_num_convs=1,
        dropout_ratio=0.2,
        use_gradients=True,
        gradient_kernel='central',
        gradient_mode='gray',
        # must equal data_preprocessor's mean/std: gradients are taken on the de-normalised image
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        skip_from='image',
        pool_type='max',
        out_indices=(0, ),
        norm_cfg=norm_cfg),
    decode_head=dict(
        # mmseg's FCNHead with an acc_seg that is right for one (sigmoid) channel
        type='BinaryFCNHead',
        in_channels=16,  # backbone.decoder_widths[-1]
        in_index=0,
        channels=16,
        num_convs=0,  # the 1x1 classifier (conv_seg) on the full-resolution decoder feature
        concat_input=False,
        dropout_ratio=0.0,  # the paper's only dropout is the backbone's (0.2 after fusion)
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
