# SOD pre-training of the full DD model on DUTS-TR (10,553 images), validated on DUTS-TE: step 1 of
# the SOD -> DBD transfer (not in the DD paper; dbdseg's recipe, as for the other DBD models).
# Step 2: dd_resnext101-32x4d_1xb6-10k_sod2dbd_{cuhk,dut}-320x320.py (load_from this run).
# SOD data has no depth maps: the depth loss is switched off (gamma = loss_weight 0; no depth map is
# read). The depth branch stays in the network (trained through SAB only), so that every weight
# of step 2's model is initialised from this checkpoint.
# Length: 20,000 iterations of batch 6 = about 11 epochs of DUTS-TR (dbdseg's choice).
# Network, optimiser, batch and augmentation as dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py; data:
# the DUTS base (DUTS-TR / DUTS-TE, image and mask only).
_base_ = [
    '../_base_/models/depth_distillation.py', '../_base_/datasets/duts.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_depth_distillation_10k.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor, decode_head=dict(loss_depth=dict(loss_weight=0.0)))
max_iters = 20000
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
train_dataloader = dict(batch_size=6)
# SOD: the SOD measures only (the DBD adaptive-threshold protocols do not apply).
val_evaluator = dict(_delete_=True, type='SODMetric')
test_evaluator = val_evaluator
