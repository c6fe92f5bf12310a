# A2S stage 2 schedule (Zhou et al., TCSVT 2023, Sec. IV-A, "Setup"): SGD, lr 0.005,
# 25 epochs, lr x0.1 at the 15th and 20th epochs, batch 8 (set by the dataloader).
# Not in the paper, from the reference code (github.com/moothes/A2S-USOD,
# methods/cornet/config.py): momentum 0.9, weight decay 5e-4, Nesterov, and the
# encoder at lr / 10 (`lr_mult=0.1` on `backbone`).
# Milestones: mmengine counts epochs from 0, so milestones=[14, 19] make the 15th..19th epochs
# (1-based) run at 0.1x and the 20th..25th at 0.01x ("decayed at 15-th and 20-th epochs"; the
# reference code steps its scheduler at the start of each epoch and does the same).
optimizer = dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=5e-4, nesterov=True)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=25, milestones=[14, 19], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=25, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=True, interval=5, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
