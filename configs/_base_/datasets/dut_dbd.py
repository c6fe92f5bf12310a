# DUT defocus blur detection set (Zhao et al., CVPR 2018): 600 train / 500 test images.
# Layout expected (the release's folders renamed by the DUT converter, file names kept):
#   data/dut_dbd/train/images/<stem>.jpg   data/dut_dbd/train/masks/<stem>.bmp
#   data/dut_dbd/test/images/<stem>.jpg    data/dut_dbd/test/masks/<stem>.bmp
# Polarity: white = in-focus, which is dbdseg's label 1 (invert=False, ARCHITECTURE.md Section 4).
# Masks are thresholded at 128 (pysodmetrics' rule) by LoadBinaryAnnotations.
dataset_type = 'BinarySegDataset'
data_root = 'data/dut_dbd'
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
        seg_map_suffix='.bmp',
        invert=False,
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
        seg_map_suffix='.bmp',
        invert=False,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
