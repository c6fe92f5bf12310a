# Full DD model on a VGG16 encoder ("OursFull VGG" of Table 2, paper: CUHK F .919 / MAE .048, DUT
# F .844 / MAE .113). The paper's Table 2 names VGG19; the released code (vggskspp of
# github.com/vinthony/depth-distillation, models/vgg.py) uses VGG16, which this config follows
# (model.backbone.depth=19 and
# init_cfg.checkpoint='torchvision://vgg19' give the paper's). Encoder: the five VGG stages, each
# output after its max-pool (64, 128, 256, 512, 512 channels, strides 2..32). Decoder widths as
# the reference: 512 -> 512 -> 256 -> 128 -> 64 -> 32 (4.72M parameters).
# Needs the teacher depth maps (see the primitive config).
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VGGWithStem',
        depth=16,
        with_bn=False,
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://vgg16')),
    decode_head=dict(in_channels=(64, 128, 256, 512, 512)))
