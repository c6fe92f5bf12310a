# Table 1, "BCE + self-supervision + hard mining" on CUHK (Sec. 3.3, Eq. 6-8): both BCE terms weight
# the pixels where saliency and in-focus disagree (S xor F) by w_hard = 2 (the swapped view's weights
# are swapped with the same patches). Needs one saliency map per TRAINING image from a saliency model
# (never the ground truth): data/cuhk_dbd/train/saliency/<stem>.png, checked by
# tools/dataset_converters/attach_saliency_maps.py (see README.md, "Saliency maps").
# Patch swap as in realtime-dbd_gradunet_1xb64-bce-self-19k_cuhk-320x320.py.
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'
model = dict(
    type='PatchSwapEncoderDecoder',
    self_supervision=True,
    patch_size=64,
    lambda_self=0.2,
    hard_mining=True,
    w_hard=2.0)
train_dataloader = dict(dataset=dict(data_prefix=dict(saliency_map_path='train/saliency')))
