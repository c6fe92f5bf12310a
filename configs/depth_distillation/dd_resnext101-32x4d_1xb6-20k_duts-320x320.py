# SOD pre-training of the full DD model on DUTS-TR (10,553 images), validated on DUTS-TE: step 1 of
# the SOD -> DBD transfer (not in the DD paper; dbdseg's recipe, as for the other DBD models).
# Step 2: dd_resnext101-32x4d_1xb6-10k_sod2dbd_{cuhk,dut}-320x320.py (load_from this run).
# SOD data has no depth maps: the depth loss is switched off (gamma = loss_weight 0; no depth map is
# read). The depth branch stays in the network (trained through SAB only), so that every weight
# of step 2's model is initialised from this checkpoint.
# Length: 20,000 iterations of batch 6 = about 11 epochs of DUTS-TR (dbdseg's choice).
_base_ = './dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'
max_iters = 20000
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
model = dict(decode_head=dict(loss_depth=dict(loss_weight=0.0)))
data_root = 'data/duts'
dataset_type = 'DUTSDataset'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(_delete_=True, img_path='train/images', seg_map_path='train/masks'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        invert=False,
        set_name='DUTS-TR'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test/images', seg_map_path='test/masks'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        invert=False,
        set_name='DUTS-TE'))
test_dataloader = val_dataloader
# SOD: the SOD measures only (the DBD adaptive-threshold protocols do not apply).
val_evaluator = dict(_delete_=True, type='SODMetric')
test_evaluator = val_evaluator
