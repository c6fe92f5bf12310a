# A2S stage 1 (Zhou et al., TCSVT 2023): train the activation head of a frozen MoCo-v2 ResNet-50
# with the ADB loss on MSRA-B train + val ("MSB-TR", 3000 images) WITHOUT their masks; then
# tools/a2s/generate_pseudo_labels.py turns its maps into pseudo labels. See README.md.
_base_ = [
    '../_base_/models/a2s_stage1.py', '../_base_/datasets/msra_b.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_a2s_stage1_20e.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
# Sec. IV-A: images resized to 320x320, horizontal flipping. No masks are loaded.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='MSRABDataset',
                data_root='data/msra_b',
                data_prefix=dict(img_path='train/images', seg_map_path=None),  # unlabeled
                set_name='MSRA-B-train',
                pipeline=train_pipeline),
            dict(
                type='MSRABDataset',
                data_root='data/msra_b',
                data_prefix=dict(img_path='val/images', seg_map_path=None),  # unlabeled
                set_name='MSRA-B-val',
                pipeline=train_pipeline),
        ]))
# No labels in stage 1, so no validation. tools/test.py still scores the activation maps
# (sigmoid(sign * theta), before CRF) on the MSRA-B test masks (test_dataloader of the base).
val_dataloader = None
val_evaluator = None
val_cfg = None
log_processor = dict(by_epoch=True)
