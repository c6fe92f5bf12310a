# CPU claim test of DD, "no distillation" arm: dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py
# with gamma = 0 (Eq. 3 of Cun & Pun 2020 without the depth term; the depth branch and SAB stay in the
# network, the depth loss weight is 0, so no depth map is read). Same data, seed and schedule.
_base_ = './dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py'
model = dict(decode_head=dict(loss_depth=dict(loss_weight=0.0)))
