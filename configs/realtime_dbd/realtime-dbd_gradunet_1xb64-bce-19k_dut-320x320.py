# As the CUHK primitive, on DUT (600 train / 500 test; masks .bmp, white = in-focus, no inversion:
# DUTDBDDataset's defaults).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
data_root = 'data/dut_dbd'
dataset_type = 'DUTDBDDataset'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
