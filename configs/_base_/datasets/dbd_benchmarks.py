# DBD benchmark: train on DUT (540 of the 600 train images), validate (and keep the 'best'
# checkpoint) on the other 60 (the seeded validation split, data/dut_dbd/splits/{train,val}.txt),
# test on the CUHK test set (100 images) and the DUT test set (500) in one run (MultiSetDataset: one
# metric block per set, keys 'CUHK/maxF', 'DUT/maxF'; predictions under <out>/<set name>/).
# Layout expected (files copied unchanged from each release):
#   data/dut_dbd/{train,test}/images/<stem>.jpg, .../masks/<stem>.bmp
#       tools/dataset_converters/dut_dbd.py; white = in-focus (DUTDBDDataset: invert=False)
#   data/cuhk_dbd/test/images/<stem>.jpg, data/cuhk_dbd/test/masks/<stem>.png
#       tools/dataset_converters/cuhk_dbd.py (604 / 100 split); white = BLURRED (CUHKDBDDataset:
#       invert=True)
# Suffixes and polarity are the dataset classes' defaults. Label 1 = in-focus in every set after
# loading. Set names: 'DUT', 'CUHK'. To train on CUHK instead, override train_dataloader.dataset
# (type='CUHKDBDDataset', data_root=cuhk_data_root), as the depth-distillation primitive does.
data_root = 'data/dut_dbd'
cuhk_data_root = 'data/cuhk_dbd'
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
        type='DUTDBDDataset',
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        ann_file='splits/train.txt',
        pipeline=train_pipeline))
test_prefix = dict(img_path='test/images', seg_map_path='test/masks')
dut_test = dict(
    type='DUTDBDDataset', data_root=data_root, data_prefix=test_prefix, pipeline=test_pipeline)
cuhk_test = dict(
    type='CUHKDBDDataset',
    data_root=cuhk_data_root,
    data_prefix=test_prefix,
    pipeline=test_pipeline)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DUTDBDDataset',
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        ann_file='splits/val.txt',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MultiSetDataset', datasets=[cuhk_test, dut_test]))
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
# The papers' practice, a named option: train on every training image and validate (select the
# 'best' checkpoint) on the test split of the training set. Use it with a user config:
#   _base_ = '<a config that uses this base>.py'
#   train_dataloader = dict(dataset={{_base_.val_on_test_train}})
#   val_dataloader = dict(dataset={{_base_.val_on_test_val}})
val_on_test_train = dict(ann_file='')
val_on_test_val = dict(
    ann_file='', data_prefix=dict(img_path='test/images', seg_map_path='test/masks'))
