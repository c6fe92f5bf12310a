# Synthetic defocus renders (tools/dataset_converters, the synthetic-defocus renderer).
# Layout written by the renderer (ARCHITECTURE.md Section 4):
#   data/synthetic_defocus/
#     images/<stem>.jpg     rendered photos
#     masks/<stem>.png      255 = in-focus, 0 = blurred (invert=False)
#     depth/<stem>.png      the exact scene depth used for the render, 8- or 16-bit, read as [0, 1]
#     train.txt, val.txt    one stem per line
# The train split also loads the depth maps (gt_depth_map, used by depth-distillation models; others
# ignore the field). Override `data_root` (or the dataloaders) in child configs.
dataset_type = 'BinarySegDataset'
data_root = 'data/synthetic_defocus'
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
        data_prefix=dict(img_path='images', seg_map_path='masks', depth_map_path='depth'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        ann_file='train.txt',
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
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        ann_file='val.txt',
        invert=False,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
