# Table 1, "BCE + self-supervision" on DUT (600 train / 500 test); see the CUHK config.
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py'
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=64, lambda_self=0.2)
