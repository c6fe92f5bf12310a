# SOD benchmark: train on DUTS-TR, validate on DUTS-TE, test on the six standard SOD test sets
# in one run (MultiSetDataset: one metric block per set, keys 'ECSSD/maxF', ...; predictions
# under <out>/<set name>/).
# Layout expected (files copied unchanged from each release; label 1 = salient = white in every
# release, invert=False):
#   data/duts/{train,test}/{images,masks}/    tools/dataset_converters/duts.py (DUTS-TR / DUTS-TE)
#   data/ecssd/test/{images,masks}/           tools/dataset_converters/folder_pairs.py
#   data/hku_is/test/{images,masks}/          tools/dataset_converters/folder_pairs.py (.png images)
#   data/pascal_s/test/{images,masks}/        tools/dataset_converters/folder_pairs.py
#   data/dut_omron/test/{images,masks}/       tools/dataset_converters/folder_pairs.py
#   data/sod/test/{images,masks}/             tools/dataset_converters/folder_pairs.py
# images <stem>.jpg (HKU-IS: .png), masks <stem>.png. Set names: 'DUTS-TE', 'ECSSD', 'HKU-IS',
# 'PASCAL-S', 'DUT-OMRON', 'SOD'.
data_root = 'data/duts'
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
        type='DUTSDataset',
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        set_name='DUTS-TR',
        pipeline=train_pipeline))
# The test sets (named datasets: suffixes and polarity are their defaults, see dbdseg/datasets).
test_prefix = dict(img_path='test/images', seg_map_path='test/masks')
duts_te_test = dict(
    type='DUTSDataset',
    data_root=data_root,
    data_prefix=test_prefix,
    set_name='DUTS-TE',
    pipeline=test_pipeline)
ecssd_test = dict(
    type='ECSSDDataset', data_root='data/ecssd', data_prefix=test_prefix, pipeline=test_pipeline)
hku_is_test = dict(
    type='HKUISDataset', data_root='data/hku_is', data_prefix=test_prefix, pipeline=test_pipeline)
pascal_s_test = dict(
    type='PASCALSDataset',
    data_root='data/pascal_s',
    data_prefix=test_prefix,
    pipeline=test_pipeline)
dut_omron_test = dict(
    type='DUTOMRONDataset',
    data_root='data/dut_omron',
    data_prefix=test_prefix,
    pipeline=test_pipeline)
sod_test = dict(
    type='SODDataset', data_root='data/sod', data_prefix=test_prefix, pipeline=test_pipeline)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=duts_te_test)
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiSetDataset',
        datasets=[duts_te_test, ecssd_test, hku_is_test, pascal_s_test, dut_omron_test, sod_test]))
val_evaluator = dict(type='SODMetric')
test_evaluator = val_evaluator
