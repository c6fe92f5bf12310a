# SOD -> DBD transfer of the A2S stage-2 detector: fine-tune the detector trained on MSRA-B pseudo
# labels (a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py) on the DUT defocus blur set (600
# training images WITH their human masks, label 1 = in focus), with the same loss (BCE + SSIM +
# IoU) and schedule (25 epochs, lr 0.005, x0.1 at the 15th and 20th), plain EncoderDecoder (no
# OLR: these labels are human ones). The A2S paper has no DBD experiment: the schedule is dbdseg's
# choice ([RECON], see README.md).
#   python tools/train.py configs/a2s/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py
#   python tools/train.py THIS_CONFIG --cfg-options load_from=work_dirs/<stage-2 work dir>/epoch_25.pth
# load_from loads weights only (fresh optimiser, schedule and epoch counter; the stage-2
# checkpoint's OLR bank record is ignored).
_base_ = [
    '../_base_/models/a2s_stage2.py', '../_base_/datasets/dut_dbd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_a2s_stage2_25e.py'
]
crop_size = (320, 320)
data_preprocessor = dict(size=crop_size)
# the encoder comes from load_from, so no MoCo file is needed
model = dict(data_preprocessor=data_preprocessor, backbone=dict(init_cfg=None))
train_dataloader = dict(batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True))
default_hooks = dict(checkpoint=dict(save_best='maxF', rule='greater'))
log_processor = dict(by_epoch=True)
load_from = 'work_dirs/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320/epoch_25.pth'
