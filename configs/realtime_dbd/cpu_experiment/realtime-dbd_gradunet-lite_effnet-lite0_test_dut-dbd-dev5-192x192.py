# Test-only config of the real-time model's CPU claim tests: any checkpoint of the
# realtime-dbd_gradunet-lite_effnet-lite0_* DBD arms (the patch-swap wrapper does not change the test
# forward) on real defocus photos in the DUT layout (test/images/*.jpg, test/masks/*.bmp, white =
# in-focus, thresholded at 128), here the 5 DUT-DBD test photos the top-level README names. Test only.
#   python tools/test.py THIS_FILE CHECKPOINT
_base_ = '../../demo/gradunet-lite_effnet-lite0_1xb8-cpu_synthetic-defocus-192x192.py'
test_dataloader = dict(
    dataset=dict(
        type='DUTDBDDataset',
        data_root='work_dirs/exp/dut_dbd_dev5',
        data_prefix=dict(_delete_=True, img_path='test/images', seg_map_path='test/masks'),
        ann_file=''))
test_evaluator = dict(type='SODMetric', dbd_protocols=['dd'])
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_dataloader = None
val_cfg = None
val_evaluator = None
