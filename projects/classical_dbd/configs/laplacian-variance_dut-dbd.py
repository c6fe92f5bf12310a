# Hand-crafted baseline on DUT: local variance of the Laplacian (Pech-Pacheco et al. 2000; LAP4 of
# Pertuz et al. 2013) in a 15 x 15 window. Test with CHECKPOINT `none`, from the repository root:
#   python tools/test.py projects/classical_dbd/configs/laplacian-variance_dut-dbd.py none
_base_ = './gradient-energy_dut-dbd.py'

model = dict(
    _delete_=True,
    type='LaplacianVarianceDBD',
    window=15,
    ksize=1,  # 4-neighbour Laplacian
    sigma=None,
    half_value=1e-3,  # used by normalize='none' only: variance mapped to 0.5
    normalize='minmax',
    threshold=0.5,
    data_preprocessor=dict(type='SegDataPreProcessor'))
