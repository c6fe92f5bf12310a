# Hand-crafted baseline on DUT: LBP-based sharpness of Yi & Eramian (IEEE TIP 2016), Eq. (15),
# at patch sizes 11/15/21 fused by their mean (the paper's matting + multi-scale inference is not
# reproduced). Test with CHECKPOINT `none`, from the repository root:
#   python tools/test.py projects/classical_dbd/configs/lbp-sharpness_dut-dbd.py none
_base_ = './gradient-energy_dut-dbd.py'

model = dict(
    _delete_=True,
    type='LBPSharpnessDBD',
    window_sizes=(11, 15, 21),  # the paper's three scales (patch sides, pixels)
    lbp_threshold=0.016,  # T_LBP, grey values in [0, 1]
    fusion='mean',
    normalize='minmax',
    threshold=0.5,
    data_preprocessor=dict(type='SegDataPreProcessor'))
