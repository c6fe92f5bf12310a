# CPU experiment, control arm: the same model, data, seed and schedule as
# dd_r18_1xb8-300it_synthetic-defocus-160x160.py with gamma = 0 (no depth distillation; the depth
# branch stays in the network, its loss weight is 0, so no depth map is read).
_base_ = './dd_r18_1xb8-300it_synthetic-defocus-160x160.py'
model = dict(decode_head=dict(loss_depth=dict(loss_weight=0.0)))
