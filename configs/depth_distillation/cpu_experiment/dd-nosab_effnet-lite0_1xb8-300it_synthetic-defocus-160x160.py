# CPU claim test of DD, "SAB off" arm (the "+D +SRFB" column of Table 2 of Cun & Pun 2020): the depth is
# still distilled (gamma = 0.1) through the depth side outputs, but the selective attention blocks do
# not multiply it into the decoder features (SABHead use_sab=False). Same data, seed and schedule as
# dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py.
_base_ = './dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py'
model = dict(decode_head=dict(use_sab=False))
