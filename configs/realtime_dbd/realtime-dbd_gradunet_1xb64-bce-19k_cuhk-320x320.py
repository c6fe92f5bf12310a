# Zhang & Yan (ECCV 2020) real-time DBD network (GradientUNet: image + d/dx + d/dy encoders)
# trained with plain BCE on CUHK (604 train / 100 test): Table 1, column "BCE". See README.md.
_base_ = [
    '../_base_/models/realtime_dbd.py', '../_base_/datasets/cuhk_dbd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_realtime_dbd_19k.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
# Sec. 4.1: resize to 320x320, then horizontal mirroring and rotation. The rotation range and
# probability are not given in the paper ([RECON]); rotated-in corners are ignored (label 255).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomRotate', prob=0.5, degree=15, pad_val=0, seg_pad_val=255),
    dict(type='PackBinarySegInputs'),
]
# batch 64 on one device = the paper's total batch (it used 4 Titan Xp GPUs, 16 each).
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
