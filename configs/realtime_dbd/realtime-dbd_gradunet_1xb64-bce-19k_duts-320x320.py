# SOD pre-training of the real-time DBD network (GradientUNet + BCE, Zhang & Yan 2020) on DUTS-TR,
# validated on DUTS-TE: step 1 of the SOD -> DBD transfer recipe of AFIU (Qian et al.), applied to a
# second model. Step 2: realtime-dbd_gradunet_1xb64-bce-19k_sod2dbd_{cuhk,dut}-320x320.py.
# Same network, optimiser, schedule and augmentation as the CUHK primitive; only the data change.
# Test on the six SOD benchmarks in one run:
#   python tools/test.py THIS_CONFIG CKPT --cfg-options \
#     "test_dataloader=$(python -c 'from mmengine import Config; print(Config.fromfile(\"configs/_base_/datasets/sod_benchmarks.py\").test_dataloader)')"
# or simply inherit `_base_/datasets/sod_benchmarks.py` in a child config.
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
data_root = 'data/duts'
dataset_type = 'DUTSDataset'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/images', seg_map_path='train/masks'),
        ann_file='',  # every DUTS-TR image (the CUHK base trains on its split list)
        set_name='DUTS-TR'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/images', seg_map_path='test/masks'),
        ann_file='',
        set_name='DUTS-TE'))
test_dataloader = val_dataloader
