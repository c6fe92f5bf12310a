# CPU experiment of configs/a2s/README.md ("CPU experiment"), stage 2: the RAM detector with online
# label rectification on a randomly initialised ResNet-18 (no MoCo-v2 weights on the machines),
# trained on the 750 PASCAL-S training photos (work_dirs/exp/pascal_s/train.txt) with pseudo labels
# from `<data_root>/pseudo_labels/<stem>.png` (tools/a2s/generate_pseudo_labels.py), NEVER the
# masks; the 100 held-out photos (test.txt) with their masks are the test set. 224x224, batch 8,
# 4 epochs: OLR lambda = 1 for the first 2 epochs, 0.4 for the last 2 (the paper's schedule,
# shortened); lr 0.005 x0.1 for the last epoch. Seed 0.
_base_ = '../a2s-stage2_r50-mocov2_1xb8-25e_folder-320x320.py'
crop_size = (224, 224)
data_root = 'work_dirs/exp/pascal_s'
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, init_cfg=None),
    decode_head=dict(in_channels=(64, 64, 128, 256, 512)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        ann_file='train.txt',
        pipeline=train_pipeline,
        data_prefix=dict(img_path='images', pseudo_label_path='pseudo_labels')))
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PASCALSDataset',
        data_root=data_root,
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        ann_file='test.txt',
        set_name='PASCAL-S-test100',
        pipeline=test_pipeline))
test_evaluator = dict(type='SODMetric')
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=4, milestones=[3], gamma=0.1)
]
train_cfg = dict(max_epochs=4)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=4))
randomness = dict(seed=0)
