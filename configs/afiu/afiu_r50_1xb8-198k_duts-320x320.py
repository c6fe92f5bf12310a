# AFIU (Qian et al., "Defocus Blur Detection via Salient Region Detection Prior"), step 1 of the
# SOD -> DBD transfer: salient object detection on DUTS-TR (Sec. 3.3), validated on DUTS-TE, tested
# on the six SOD benchmarks of Table 3 in one run (DUTS-TE, ECSSD, HKU-IS, PASCAL-S, DUT-OMRON,
# SOD):
#   python tools/test.py THIS_CONFIG CHECKPOINT --metrics-out sod.json
# Step 2: afiu_r50_1xb8-15k_sod2dbd_cuhk-320x320.py (see README.md).
_base_ = [
    '../_base_/models/afiu.py', '../_base_/datasets/sod_benchmarks.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_afiu_198k.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
# Sec. 3.3: "resized to 320*320 with 50% probability of vertical flip. Also, Random Color
# jittering". [RECON] The jitter strengths are not given: mmseg's PhotoMetricDistortion defaults.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18),
    dict(type='PackBinarySegInputs'),
]
# batch 8 on one device (the paper: one GTX 2080 Ti)
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
