# Table 1, "BCE + self-supervision + hard mining" on DUT; saliency maps of the training images in
# data/dut_dbd/train/saliency/<stem>.png (see README.md, "Saliency maps").
# Patch swap as in realtime-dbd_gradunet_1xb64-bce-self-19k_dut-320x320.py.
_base_ = './realtime-dbd_gradunet_1xb64-bce-19k_dut-320x320.py'
model = dict(
    type='PatchSwapEncoderDecoder',
    self_supervision=True,
    patch_size=64,
    lambda_self=0.2,
    hard_mining=True,
    w_hard=2.0)
train_dataloader = dict(dataset=dict(data_prefix=dict(saliency_map_path='train/saliency')))
