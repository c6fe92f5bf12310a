# Hand-crafted baseline on DUT (Zhao et al. 2018, 500 test images): energy of the Laplacian
# (GradientEnergyDBD, projects/classical_dbd). No learned weights: test with CHECKPOINT `none`,
# from the repository root:
#   python tools/test.py projects/classical_dbd/configs/gradient-energy_dut-dbd.py none
# This is the primitive config of the project; the other detectors' configs inherit it and replace
# `model`, the synthetic-defocus ones also `test_dataloader.dataset`.
_base_ = [
    '../../../configs/_base_/datasets/dut_dbd.py',
    '../../../configs/_base_/default_runtime.py',
]
# `projects` is found on sys.path: tools/train.py, test.py and infer.py put the repository root
# there; elsewhere run from the repository root with PYTHONPATH=.
custom_imports = dict(
    imports=[
        'dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
        'dbdseg.visualization', 'projects.classical_dbd.classical_dbd'
    ],
    allow_failed_imports=False)

model = dict(
    type='GradientEnergyDBD',
    window=15,  # box window (pixels), as dbdseg.utils.gradient_energy_map's default
    sigma=None,  # no Gaussian pre-blur
    normalize='minmax',  # per-image stretch to [0, 1]
    threshold=0.5,  # pred_sem_seg = prob > 0.5
    # raw pixel values 0..255, BGR as loaded by mmcv (no mean/std, no channel swap)
    data_preprocessor=dict(type='SegDataPreProcessor'))

# The detectors' windows are in pixels: run at the original resolution (no Resize), one image per
# batch (images of a test set may differ in size).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
test_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_evaluator = dict(type='SODMetric', dbd_protocols=['dd', 'dd_pooled', 'fixed'])
test_cfg = dict(type='TestLoop')

# Nothing to train or validate: the runner needs train/val settings to be all None or all set.
train_dataloader = None
val_dataloader = None
val_evaluator = None

# Distributed testing (tools/dist_test.sh): plain DDP refuses a module without parameters; this
# wrapper wraps only sub-modules that have trainable parameters (none here) and otherwise calls
# the model's own test_step.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel', broadcast_buffers=False, find_unused_parameters=False)
