# Synthetic defocus renders (tools/dataset_converters, the synthetic-defocus renderer).
# Layout written by the renderer (BinarySegDataset's defaults: .jpg images, .png masks,
# no inversion):
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
# Test-time augmentation (tools/test.py --tta; tta_model is in default_runtime.py): 3 scales x
# {no flip, horizontal flip} = 6 views. Scales are crop_size x ~0.7 / 1.0 / 1.3 rounded to
# multiples of 32 (224, 320, 416), which every dbdseg model's total stride divides. The ground
# truth is loaded after Resize and RandomFlip, so it stays at the original size and orientation.
img_ratios = [0.7, 1.0, 1.3]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(round(crop_size[1] * r / 32)) * 32,
                           int(round(crop_size[0] * r / 32)) * 32),
                    keep_ratio=False) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadBinaryAnnotations')],
            [dict(type='PackBinarySegInputs')],
        ])
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
        ann_file='train.txt',
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
        ann_file='val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
