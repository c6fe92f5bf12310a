# Table 1, "BCE + self-supervision" on CUHK (Zhang & Yan, ECCV 2020, Sec. 3.2, Eq. 1-5): the same
# network and schedule as the BCE primitive, trained with patch swap: each image I gets a view I' with
# two random non-overlapping 64x64 patches swapped (positions drawn per image and iteration),
# L = L_ori + L_aug + lambda_s * L_self, lambda_s = 0.2 (logged as loss_ori, loss_aug, loss_self).
# Sec. 3.2 says 64x64 patches, Sec. 4.1 says 16: `patch_size` takes either. Inference is the plain
# encoder-decoder (no test-time cost).
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
model = dict(type='PatchSwapEncoderDecoder', self_supervision=True, patch_size=64, lambda_self=0.2)
