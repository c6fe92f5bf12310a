# AFIU (Qian et al.) Sec. 3.3: Adam, initial learning rate 1e-5, betas (0.9, 0.999), weight decay 0,
# batch 8; "converged after around 150 epochs" on DUTS-TR (10,553 images) in the SOD stage and
# "about 200" epochs on CUHK (604 images) in the fine-tuning stage.
# In iterations at batch 8: 150 x 10,553 / 8 = 197,869 -> 198,000 (SOD, this file);
# 200 x 604 / 8 = 15,100 -> 15,000 (DBD fine-tuning, set by the *_sod2dbd_* config).
# [RECON] The paper names no learning-rate decay: the rate stays at 1e-5 (no param_scheduler).
optimizer = dict(type='Adam', lr=1e-5, betas=(0.9, 0.999), weight_decay=0.0)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=198000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=10000,
        save_best='maxF',
        rule='greater',
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
