# Reference row on DUT: a constant in-focus probability of 1 (ConstantDBD, every pixel "in focus"),
# the trivial map a DBD table compares methods with. Test with CHECKPOINT `none`, from the
# repository root:
#   python tools/test.py projects/classical_dbd/configs/all-in-focus_dut-dbd.py none
_base_ = './gradient-energy_dut-dbd.py'

model = dict(
    _delete_=True,
    type='ConstantDBD',
    value=1.0,  # probability of "in focus" at every pixel
    normalize='none',  # a min-max stretch would turn the constant map into zeros
    threshold=0.5,
    data_preprocessor=dict(type='SegDataPreProcessor'))
