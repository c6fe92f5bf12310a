# CPU SOD -> DBD transfer experiment, fine-tune arm: the "DBD only" config started from the SOD
# checkpoint of afiu_r18_1xb8-300it_pascal-s-160x160.py (weights only; fresh optimiser and schedule).
_base_ = './afiu_r18_1xb8-200it_synthetic-defocus-160x160.py'
load_from = 'work_dirs/cpu_transfer/afiu_sod/iter_300.pth'
