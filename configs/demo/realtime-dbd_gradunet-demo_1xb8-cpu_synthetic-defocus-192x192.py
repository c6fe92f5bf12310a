# The configuration of `bash tools/demo.sh`: the real-time DBD network of Zhang & Yan (GradientUNet +
# FCNHead, BCE) at half width, trained on CPU for about 13 minutes on 2 cores on synthetic defocus renders
# of the bundled photos (tools/dataset_converters/synthesize_defocus.py), validated and tested on held-out
# scenes. Demo choices (ours, not the paper's): half the channel widths, 192x192 inputs, Adam 1e-3 with
# a linear decay instead of the paper's 2e-5, batch 8, a short schedule. tools/demo.sh sets data_root.
# The head has one 3x3 conv (32 channels, BN, ReLU) before the 1x1 classifier: with the 1x1 classifier
# alone on the 8 ReLU channels of the half-width decoder, every channel learned to fire on the blurred
# (majority) class and stay 0 on in-focus pixels, so in-focus probabilities were capped at
# sigmoid(bias) = 0.57 (maxF 0.63 on DUT-DBD-dev5 after 1500 iterations); with the 32-channel conv the
# maps reach 1.0 and the same photos scored maxF 0.79 after 300 iterations. 1200 iterations keep the
# training near 13 minutes on 2 cores (0.67 s per iteration with this head).
_base_ = [
    '../_base_/models/realtime_dbd.py', '../_base_/datasets/synthetic_defocus.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_realtime_dbd_19k.py'
]
crop_size = (192, 192)
data_root = 'work_dirs/demo/data'
max_iters = 1200
val_interval = 300

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(widths=(8, 16, 32, 64, 128), decoder_widths=(64, 32, 16, 8), fuse_channels=128),
    decode_head=dict(in_channels=8, channels=32, num_convs=1, kernel_size=3))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackBinarySegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
# tools/test.py --tta: 3 scales around 192 (multiples of 16, the network's total stride) x flip; the
# base config's tta_pipeline is built for 320 inputs.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(s, s), keep_ratio=False) for s in (144, 192, 240)],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadBinaryAnnotations')],
            [dict(type='PackBinarySegInputs')],
        ])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        # the demo model does not use depth: load only image and mask
        data_prefix=dict(_delete_=True, img_path='images', seg_map_path='masks'),
        pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=val_interval, save_best='maxF', rule='greater', max_keep_ckpts=1),
    visualization=dict(type='SegVisualizationHook', draw=False))
randomness = dict(seed=0)
