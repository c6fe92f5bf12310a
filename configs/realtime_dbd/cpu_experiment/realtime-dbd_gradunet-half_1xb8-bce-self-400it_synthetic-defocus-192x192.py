# CPU ablation, "BCE + self-supervision": patch swap with 40x40 patches (about the paper's 64/320 of
# the image side at 192x192), lambda_s = 0.2.
_base_ = './realtime-dbd_gradunet-half_1xb8-bce-400it_synthetic-defocus-192x192.py'
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=40, lambda_self=0.2)
