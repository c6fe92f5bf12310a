# CPU ablation, "BCE without image gradient": the image encoder only.
_base_ = './realtime-dbd_gradunet-half_1xb8-bce-400it_synthetic-defocus-192x192.py'
model = dict(backbone=dict(use_gradients=False))
