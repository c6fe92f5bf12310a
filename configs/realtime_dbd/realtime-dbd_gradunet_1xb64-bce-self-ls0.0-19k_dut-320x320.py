# Table 2 (lambda_s sensitivity) on DUT: "BCE + self-supervision" with lambda_s = 0.0
# (0.2 is realtime-dbd_gradunet_1xb64-bce-self-19k_dut-320x320.py).
# lambda_s = 0 still trains L_aug on the swapped view; the paper (Sec. 4.4) says this 'boils down
# to BCE', which is the self_supervision=False config (realtime-dbd_gradunet_1xb64-bce-19k_*).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py'
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=64, lambda_self=0.0)
