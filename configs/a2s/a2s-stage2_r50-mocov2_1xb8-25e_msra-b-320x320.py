# A2S stage 2 (Zhou et al., TCSVT 2023, Sec. III-B): train the RAM saliency detector on the stage-1
# pseudo labels of MSRA-B train + val ("MSB-TR", 3000 images) with Online Label Rectification
# (Eq. 14: G <- lambda G + (1 - lambda) Y, lambda 1 for two epochs, then 0.4). No human label is
# read: the masks of MSRA-B train/val are not loaded. See README.md ("Stage 2").
# Pseudo labels: data/msra_b/a2s_pseudo/<stem>.png, written by
#   python tools/a2s/generate_pseudo_labels.py configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py \
#       <stage-1 checkpoint> data/msra_b/train/images data/msra_b/val/images --out data/msra_b/a2s_pseudo
# Test: MSRA-B test (2000 images, human masks), ave-F = meanF and MAE as the paper.
_base_ = [
    '../_base_/models/a2s_stage2.py', '../_base_/datasets/msra_b.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_a2s_stage2_25e.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(type='OLREncoderDecoder', data_preprocessor=data_preprocessor)
# Sec. IV-A: 320x320, horizontal flipping. The OLR bank needs one fixed geometry per image up to
# flips (which it undoes): keep the fixed-size Resize, no random crops.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),  # loads gt_pseudo_label (no masks: seg_map_path=None)
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackBinarySegInputs'),
]
pseudo_label_path = 'a2s_pseudo'
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),  # every image once per epoch (Eq. 14)
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='MSRABDataset',
                data_root='data/msra_b',
                data_prefix=dict(
                    img_path='train/images', seg_map_path=None,
                    pseudo_label_path=pseudo_label_path),
                set_name='MSRA-B-train',
                pipeline=train_pipeline),
            dict(
                type='MSRABDataset',
                data_root='data/msra_b',
                data_prefix=dict(
                    img_path='val/images', seg_map_path=None, pseudo_label_path=pseudo_label_path),
                set_name='MSRA-B-val',
                pipeline=train_pipeline),
        ]))
# OLRHook: Eq. 14 schedule and the bank's lifecycle (bank in <work_dir>/olr_bank; a snapshot per
# checkpoint so that resuming restores the labels of that checkpoint). RNGStateHook is kept from
# default_runtime.py (exact resume).
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(
        type='OLRHook',
        warmup_epochs=2,
        lam=0.4,
        warmup_lam=1.0,
        checkpoint_mode='snapshot',
        max_keep_snapshots=2),
]
# Unsupervised: no labelled validation set (MSRA-B val is part of the training set).
val_dataloader = None
val_evaluator = None
val_cfg = None
log_processor = dict(by_epoch=True)
