# CPU claim test of SOD -> DBD transfer with the real-time model, SOD step: the same network and schedule
# trained for salient object detection (400 iterations) on PASCAL-S images 1-750 in numeric order,
# tested on 751-850 (work_dirs/exp/pascal_s_numeric/{train,test}.txt, recipe in configs/afiu/README.md).
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
data_root = 'work_dirs/exp/pascal_s_numeric'
max_iters = 400
train_dataloader = dict(
    dataset=dict(
        type='PASCALSDataset',
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='train.txt',
        set_name='PASCAL-S-train'))
val_dataloader = dict(
    dataset=dict(
        type='PASCALSDataset',
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        ann_file='test.txt',
        set_name='PASCAL-S-751-850'))
test_dataloader = val_dataloader
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, save_best=None))
