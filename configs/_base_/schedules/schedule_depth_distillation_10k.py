# Depth distillation (Cun & Pun, ECCV 2020), Sec. 4 "Implementation Details": SGD, momentum 0.9,
# learning rate 0.005, batch 6, 320x320, "less than 2 hours" on one GTX 1080.
# Not in the paper (our choices, each a field here; configs/depth_distillation/README.md lists
# them under 'What the paper does not say'):
# * length: 10,000 iterations = about 100 epochs of the 604 CUHK training images at batch 6
#   (100.7 iterations per epoch). Estimate behind it: at the paper's 0.028 s per 320x320 forward, a
#   forward + backward of 6 images takes roughly 0.5 s, so 2 hours hold at most ~14k iterations.
# * decay: poly, power 0.9, to 0 over the run; weight decay 5e-4. These are the settings of BDRAR
#   (Zhu et al., ECCV 2018), whose ResNeXt-101 the official DD code reuses
#   (github.com/vinthony/depth-distillation, models/resnext/).
max_iters = 10000
optimizer = dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=1000,
        save_best='maxF',
        rule='greater',
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
