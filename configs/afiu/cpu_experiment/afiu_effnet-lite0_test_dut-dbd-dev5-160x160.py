# Test-only config of the AFIU CPU claim test: any checkpoint of the EfficientNet-Lite0 AFIU DBD arms
# (afiu_effnet-lite0_1xb8-300it_*synthetic-defocus-pascal-s-160x160.py) on real defocus photos in the DUT
# layout (test/images/*.jpg, test/masks/*.bmp, white = in-focus, thresholded at 128), here the 5 DUT-DBD
# test photos the top-level README names. Test only: no training or validation data.
#   python tools/test.py THIS_FILE CHECKPOINT
_base_ = './afiu_effnet-lite0_1xb8-300it_synthetic-defocus-pascal-s-160x160.py'
test_dataloader = dict(
    dataset=dict(
        type='DUTDBDDataset',
        data_root='work_dirs/exp/dut_dbd_dev5',
        data_prefix=dict(_delete_=True, img_path='test/images', seg_map_path='test/masks'),
        ann_file=''))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
