# CPU SOD -> DBD transfer experiment, SOD step: the same network and schedule trained for salient
# object detection (300 iterations) on 750 PASCAL-S images, the other 100 held out for the SOD
# test. The split lists
# (train.txt, test.txt: a seeded shuffle of the 850 stems, random.Random(0)) and the folder
#   <data_root>/{images,masks,train.txt,test.txt}
# are made as in configs/afiu/README.md ("CPU transfer experiment").
_base_ = './afiu_r18_1xb8-200it_synthetic-defocus-160x160.py'
data_root = 'work_dirs/exp/pascal_s'
dataset_type = 'PASCALSDataset'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='train.txt',
        set_name='PASCAL-S-train'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='test.txt',
        set_name='PASCAL-S-test100'))
test_dataloader = val_dataloader
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
