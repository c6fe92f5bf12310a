# AFIU (Qian et al., "Defocus Blur Detection via Salient Region Detection Prior", arXiv 2011.09677),
# Sec. 3.2 / Fig. 4: ResNet-50 (E1 = conv1 ... E5 = conv5_x) -> encoder "AIM + SIM + fusion" per
# level (AIMSIMNeck: MINet's AIM and SIM, Pang et al. 2020, Sec. 3.2-3.3) -> decoder "stacked U-net
# with residual connections" (RSUStackHead: U²-Net's RSU blocks, Qin et al. 2020, Sec. 3.1) -> 1x1
# conv, one BCE (Eq. 2). Reconstructed where the paper is silent (our choices, see
# configs/afiu/README.md, 'What the paper does not say, and what dbdseg chose'): the fusion module
# (one 3x3 conv + BN + ReLU, 64 -> 64), the RSU heights and widths, the widths of EC1..EC5.
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
    pretrained=None,
    backbone=dict(
        type='ResNetWithStem',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3, 4),  # E1 (stem, stride 2) .. E5 (stride 32)
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        # ImageNet weights (the paper's baseline "pre-trained backbone"); train the SOD stage from
        # these. To start from random weights: --cfg-options model.backbone.init_cfg=None
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='AIMSIMNeck',
        in_channels=(64, 256, 512, 1024, 2048),  # ResNet-18/34: (64, 64, 128, 256, 512)
        aim_channels=64,  # MINet-Res50
        aim_mid_channels=None,  # None = min of each AIM's inputs (MINet): 64, 64, 256, 512, 1024
        sim_low_channels=32,  # SIM(64, 32) as MINet-Res50
        out_channels=64,  # EC1..EC5
        fusion_num_convs=1,  # [RECON] the "extra fusion module"
        fusion_kernel_size=3,
        norm_cfg=norm_cfg,
        align_corners=False),
    decode_head=dict(
        type='RSUStackHead',
        in_channels=(64, 64, 64, 64, 64),  # = neck.out_channels
        in_index=(0, 1, 2, 3, 4),
        # [RECON] by resolution as U²-Net (see configs/afiu/README.md), finest level first:
        # RSU-7, RSU-6, RSU-5, RSU-4, RSU-4F
        heights=(7, 6, 5, 4, 4),
        dilated=(False, False, False, False, True),
        mid_channels=(32, 32, 64, 64, 32),
        block_channels=(64, 64, 64, 64, 64),
        channels=64,  # = block_channels[0], the D1 width fed to the 1x1 output conv
        side_outputs=False,  # U²-Net deep supervision: an option, off (the paper: one BCE)
        dropout_ratio=0.0,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
