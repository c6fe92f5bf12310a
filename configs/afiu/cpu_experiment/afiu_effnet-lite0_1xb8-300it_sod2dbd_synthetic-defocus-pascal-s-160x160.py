# CPU claim test of AFIU, "SOD -> DBD" arm: the "DBD only" config
# (afiu_effnet-lite0_1xb8-300it_synthetic-defocus-pascal-s-160x160.py) started from the whole SOD model
# of afiu_effnet-lite0_1xb8-300it_pascal-s-160x160.py (SOD on PASCAL-S 1-750, 300 iterations; weights
# only, fresh optimiser and schedule), as AFIU Sec. 3.3 pre-trains on SOD before fine-tuning on DBD.
# Same DBD iterations, data and schedule as the "DBD only" arm.
_base_ = './afiu_effnet-lite0_1xb8-300it_synthetic-defocus-pascal-s-160x160.py'
load_from = 'work_dirs/cpu_experiment/afiu_sod/iter_300.pth'
# load_from replaces every weight: do not read the ImageNet file first (it is in the SOD checkpoint)
model = dict(backbone=dict(init_cfg=None))
