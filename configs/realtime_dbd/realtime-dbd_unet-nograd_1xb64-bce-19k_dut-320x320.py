# Table 1 ablation "BCE without image gradient" on DUT: the image encoder only
# (no d/dx, d/dy encoders).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py'
model = dict(backbone=dict(use_gradients=False))
