# AFIU (Qian et al.) trained for DBD without SOD pre-training ("Ours w/o finetune" / "original" in
# Tables 1-2): ImageNet ResNet-50, then CUHK (604 train images, Shi et al.), tested on the CUHK test
# set (100) and DUT (500) in one run (keys 'CUHK/maxF', 'DUT/maxF', ...). Same network, optimiser
# and augmentation as the SOD primitive; only the data and the length change.
# Length [RECON]: Fig. 7 / Sec. 4.3.3 say training without the SOD prior takes "over 400 epochs";
# 32,000 iterations x 8 / 604 = 424 epochs.
_base_ = './afiu_r50_1xb8-198k_duts-320x320.py'
train_cfg = dict(max_iters=32000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
# CUHK masks: white = blurred; CUHKDBDDataset inverts them by default (label 1 = in-focus). DUT
# masks: white = in-focus, .bmp (DUTDBDDataset's defaults).
cuhk = dict(
    type='CUHKDBDDataset', data_root='data/cuhk_dbd',
    set_name=None)  # CUHKDBDDataset.SET_NAME = 'CUHK'
train_prefix = dict(img_path='train/images', seg_map_path='train/masks')
# train on 544 of the 604 CUHK training images; validate (and keep the 'best' checkpoint) on the
# other 60, the seeded validation split (data/cuhk_dbd/splits/{train,val}.txt); test on the test sets
train_dataloader = dict(dataset=dict(cuhk, data_prefix=train_prefix, ann_file='splits/train.txt'))
val_dataloader = dict(dataset=dict(cuhk, data_prefix=train_prefix, ann_file='splits/val.txt'))
test_prefix = dict(img_path='test/images', seg_map_path='test/masks')
test_dataloader = dict(
    dataset=dict(
        type='MultiSetDataset',
        datasets=[
            dict(cuhk, data_prefix=test_prefix, pipeline={{_base_.test_pipeline}}),
            dict(
                type='DUTDBDDataset',
                data_root='data/dut_dbd',
                data_prefix=test_prefix,
                pipeline={{_base_.test_pipeline}}),
        ]))
# The papers' practice, a named option: train on all 604 and validate on the CUHK test split
# (user config: train_dataloader = dict(dataset={{_base_.val_on_test_train}}), likewise val).
val_on_test_train = dict(ann_file='')
val_on_test_val = dict(ann_file='', data_prefix=test_prefix)
