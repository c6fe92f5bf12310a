# Table 2 (lambda_s sensitivity) on DUT: "BCE + self-supervision" with lambda_s = 0.4
# (0.2 is realtime-dbd_gradunet_1xb64-bce-self-19k_dut-320x320.py).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py'
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=64, lambda_self=0.4)
