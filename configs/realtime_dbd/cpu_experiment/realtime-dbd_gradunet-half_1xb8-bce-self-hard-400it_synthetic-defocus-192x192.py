# CPU ablation, "BCE + self-supervision + hard mining": w_hard = 2 on S xor F, S from the
# frequency-tuned saliency maps (Achanta et al. 2009) of the training renders written by
#   python tools/dataset_converters/classical_saliency.py --images DATA/images --out DATA/saliency
# (a model-free detector on the image alone; never the renderer's layers or the masks).
# Patch swap as in realtime-dbd_gradunet-half_1xb8-bce-self-400it_synthetic-defocus-192x192.py.
_base_ = './realtime-dbd_gradunet-half_1xb8-bce-400it_synthetic-defocus-192x192.py'
model = dict(
    type='PatchSwapEncoderDecoder',
    self_supervision=True,
    patch_size=40,
    lambda_self=0.2,
    hard_mining=True,
    w_hard=2.0)
train_dataloader = dict(dataset=dict(data_prefix=dict(saliency_map_path='saliency')))
