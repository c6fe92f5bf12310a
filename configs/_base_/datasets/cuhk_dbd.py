# CUHK defocus blur detection set (Shi et al., CVPR 2014), the 704 defocus images:
# 604 train / 100 test (the BTBNet/DD split, list shipped with the CUHK converter); 60 of the 604
# are the validation split (544 train / 60 val / 100 test: model selection never sees the test set).
# Layout expected (what tools/dataset_converters/cuhk_dbd.py writes from the original release, files
# copied unchanged, names kept, e.g. out_of_focus0001):
#   data/cuhk_dbd/train/images/<stem>.jpg   data/cuhk_dbd/train/masks/<stem>.png
#   data/cuhk_dbd/test/images/<stem>.jpg    data/cuhk_dbd/test/masks/<stem>.png
#   data/cuhk_dbd/splits/{train,val}.txt    the seeded validation split (shipped list
#       tools/dataset_converters/splits/cuhk_dbd_val60.txt; a folder converted before it existed:
#       tools/dataset_converters/validation_split.py data/cuhk_dbd --val-list <that list>)
# Polarity: in the original CUHK masks white = BLURRED; CUHKDBDDataset inverts them by default
# (CUHKDBDDataset.INVERT = True) into dbdseg's label 1 = in-focus. For a re-release already stored
# as white = in-focus set invert=False in every dataloader. Suffixes: the class defaults (.jpg,
# .png).
# Set name (results, metric keys with several test sets): 'CUHK' (CUHKDBDDataset.SET_NAME).
dataset_type = 'CUHKDBDDataset'
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
        ann_file='splits/train.txt',  # the 544 training images outside the validation split
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
# The papers' practice, a named option: train on all 604 training images and validate (select
# the 'best' checkpoint) on the test split. Use it with a user config:
#   _base_ = '<a config that uses this base>.py'
#   train_dataloader = dict(dataset={{_base_.val_on_test_train}})
#   val_dataloader = dict(dataset={{_base_.val_on_test_val}})
val_on_test_train = dict(ann_file='')
val_on_test_val = dict(
    ann_file='', data_prefix=dict(img_path='test/images', seg_map_path='test/masks'))
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
