# CUHK defocus blur detection set (Shi et al., CVPR 2014), the 704 defocus images:
# 604 train / 100 test (the BTBNet/DD split, list shipped with the CUHK converter).
# Layout expected (what the CUHK converter writes from the original release, file names kept,
# e.g. out_of_focus0001):
#   data/cuhk_dbd/train/images/<stem>.jpg   data/cuhk_dbd/train/masks/<stem>.png
#   data/cuhk_dbd/test/images/<stem>.jpg    data/cuhk_dbd/test/masks/<stem>.png
# Polarity: in the original CUHK masks white = BLURRED, so invert=True turns them into dbdseg's
# label 1 = in-focus (ARCHITECTURE.md Section 4). For a re-release already stored as
# white = in-focus set invert=False in both dataloaders.
dataset_type = 'BinarySegDataset'
data_root = 'data/cuhk_dbd'
crop_size = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    # after Resize: the ground truth stays at the original image size for evaluation
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        invert=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/images', seg_map_path='test/masks'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        invert=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
