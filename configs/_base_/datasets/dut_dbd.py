# DUT defocus blur detection set (Zhao et al., CVPR 2018, BTBNet): 600 train (dut600) / 500 test
# (dut500) images; 60 of the 600 are the validation split (540 train / 60 val / 500 test: model
# selection never sees the test set).
# Layout expected (what tools/dataset_converters/dut_dbd.py writes: the release's folders renamed,
# files copied unchanged, names kept):
#   data/dut_dbd/train/images/<stem>.jpg   data/dut_dbd/train/masks/<stem>.bmp
#   data/dut_dbd/test/images/<stem>.jpg    data/dut_dbd/test/masks/<stem>.bmp
#   data/dut_dbd/splits/{train,val}.txt    the seeded validation split the converter draws (a
#       folder converted before it existed: tools/dataset_converters/validation_split.py
#       data/dut_dbd)
# Polarity: white = in-focus, which is dbdseg's label 1 (DUTDBDDataset.INVERT = False). Suffixes:
# the class defaults (.jpg images, .bmp masks).
# Masks are thresholded at 128 (pysodmetrics' rule) by LoadBinaryAnnotations.
# Set name (results, metric keys with several test sets): 'DUT' (DUTDBDDataset.SET_NAME).
dataset_type = 'DUTDBDDataset'
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
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        ann_file='splits/train.txt',  # the 540 training images outside the validation split
        pipeline=train_pipeline))
# validation (and the 'best' checkpoint) on the 60 images carved from the training set
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        ann_file='splits/val.txt',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/images', seg_map_path='test/masks'),
        pipeline=test_pipeline))
# The papers' practice, a named option: train on all 600 training images and validate (select
# the 'best' checkpoint) on the test split. Use it with a user config:
#   _base_ = '<a config that uses this base>.py'
#   train_dataloader = dict(dataset={{_base_.val_on_test_train}})
#   val_dataloader = dict(dataset={{_base_.val_on_test_val}})
val_on_test_train = dict(ann_file='')
val_on_test_val = dict(
    ann_file='', data_prefix=dict(img_path='test/images', seg_map_path='test/masks'))
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
