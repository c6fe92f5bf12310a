# Test-only config of the DD CPU claim test: any checkpoint of the EfficientNet-Lite0 DD arms
# (dd*_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py; SAB off needs --cfg-options
# model.decode_head.use_sab=False) on real defocus photos (images/*.jpg, masks/*.bmp,
# white = in-focus, thresholded at 128) in the DUT layout (test/images, test/masks), here the 5 DUT-DBD
# test photos the top-level README names. Test only: no training or validation data.
#   python tools/test.py THIS_FILE CHECKPOINT
_base_ = './dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py'
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
