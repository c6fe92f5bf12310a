# As the CUHK primitive, on DUT (600 train / 500 test; masks .bmp, white = in-focus, no inversion).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
data_root = 'data/dut_dbd'
dataset_type = 'DUTDBDDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, seg_map_suffix='.bmp', invert=False))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, seg_map_suffix='.bmp', invert=False))
test_dataloader = val_dataloader
