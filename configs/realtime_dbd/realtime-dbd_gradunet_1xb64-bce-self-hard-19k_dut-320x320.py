# Table 1, "BCE + self-supervision + hard mining" on DUT; saliency maps of the training images in
# data/dut_dbd/train/saliency/<stem>.png (see README.md, "Saliency maps").
_base_ = './realtime-dbd_gradunet_1xb64-bce-self-19k_dut-320x320.py'
model = dict(hard_mining=True, w_hard=2.0)
train_dataloader = dict(
    dataset=dict(data_prefix=dict(saliency_map_path='train/saliency')))
