# Depth distillation (DD): Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020.
# ResNeXt-101 32x4d encoder (five levels "before each MaxPooling layer", the stride-2 stem
# included; paper Sec. 3.2) and SABHead: per level nearest x2 upsample + SRFB, a defocus and a
# depth 1x1 side classifier, SAB attention from the two side outputs multiplied into the features,
# skip addition, and a 1x1 PredictionFusion of all side outputs (paper Sec. 3.2, Fig. 2b-4; layer
# details from the official code, github.com/vinthony/depth-distillation).
# Losses (Sec. 3.3, Eq. 2-3): class-balanced BCE on the fused and every side defocus map
# (alpha_k = 1) + gamma * MSE to the teacher depth (gt_depth_map) on the fused and every side depth
# map (beta_k = 1), gamma = 0.1; every term is logged (decode.loss_defocus, ..._side1..5,
# decode.loss_depth*). The BCE weighting and the MSE are our choices where the paper is silent
# (configs/depth_distillation/README.md, 'What the paper does not say').
# Training data must carry depth maps (data_prefix depth_map_path) unless
# model.decode_head.loss_depth.loss_weight=0.
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
    pretrained=None,
    backbone=dict(
        type='ResNeXtWithStem',
        depth=101,
        groups=32,
        base_width=4,
        num_stages=4,
        out_indices=(0, 1, 2, 3, 4),
        style='pytorch',
        norm_cfg=norm_cfg,
        norm_eval=False,
        # ImageNet ResNeXt-101 32x4d in mmseg key layout. The paper's own ImageNet file (BDRAR's
        # Torch7-converted resnext_101_32x4d.pth) converts with
        # tools/model_converters/dd2dbdseg.py (layout imagenet_resnext, detected from the keys, or
        # --layout imagenet_resnext); then point checkpoint at the output.
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnext101_32x4d')),
    decode_head=dict(
        type='SABHead',
        in_channels=(64, 256, 512, 1024, 2048),
        in_index=(0, 1, 2, 3, 4),
        input_transform='multiple_select',
        channels=32,  # width of the last (stride-1) level; the others equal their skip input
        block_cfg=dict(
            type='SRFB',
            reduction=4,
            kernel_sizes=(3, 5, 7),
            dilations=(3, 5, 7),
            cascade=True,
            with_identity=True,
            sk_reduction=16,
            sk_min_channels=32),
        use_depth=True,
        use_sab=True,
        sab_channels=32,
        fused_loss_weight=1.0,
        side_loss_weights=1.0,  # alpha_k
        depth_fused_loss_weight=1.0,
        depth_side_loss_weights=1.0,  # beta_k
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='BalancedBCELoss', loss_weight=1.0, loss_name='loss_defocus'),
        loss_depth=dict(
            type='DepthDistillationLoss',
            mode='mse',
            loss_weight=0.1,  # gamma
            loss_name='loss_depth')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
