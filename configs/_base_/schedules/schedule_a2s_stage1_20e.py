# A2S stage 1 schedule (Zhou et al., TCSVT 2023, Sec. IV-A, "Setup"): SGD, lr 1,
# 20 epochs, lr x0.1 at the 10th and 16th epochs, batch 8 (set by the dataloader).
# Momentum 0.9, weight decay 5e-4 and Nesterov are the reference code's (the paper gives none;
# github.com/moothes/A2S-USOD, methods/mnet/config.py).
# Milestones: mmengine counts epochs from 0, so milestones=[9, 15] makes the 10th..15th epochs
# (1-based) run at lr 0.1 and the 16th..20th at 0.01 ("decayed at 10-th and 16-th epochs"; the
# reference code runs 12..15 at 0.1 and 16..20 at 0.01: milestones=[11, 15] reproduce it).
# The encoder is frozen by the model config; lr_mult/decay_mult 0 on `backbone` keep it fixed
# even when the freezing is turned off to let BN statistics drift as the reference does.
optimizer = dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=5e-4, nesterov=True)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=None,
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.0, decay_mult=0.0)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=20, milestones=[9, 15], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=True, interval=5, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
