# Runtime shared by every dbdseg config (mmengine runner, mmseg scope).
default_scope = 'mmseg'
# Importing these subpackages registers dbdseg's components into mmseg's registries (the same list
# as dbdseg.utils.set_env.REGISTERING_MODULES); `import dbdseg` alone registers nothing.
custom_imports = dict(
    imports=[
        'dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
        'dbdseg.visualization'
    ],
    allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch this to 'gloo' when CUDA is not available.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
# image | ground truth | probability heat map | prediction panels (tools/test.py --show-dir)
visualizer = dict(type='BinarySegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# tools/test.py --tta wraps the model in this (averages the views' probabilities); the dataset
# configs provide tta_pipeline.
tta_model = dict(type='BinarySegTTAModel')
# Exact resume after a kill (dbdseg.engine.hooks.RNGStateHook): random-number and sampler states in
# every checkpoint, restored by `tools/train.py --resume`. Configs that set their own custom_hooks
# should keep this entry. Checkpoints and `last_checkpoint` are written atomically by the
# AtomicCheckpointHook that the schedules name in default_hooks.checkpoint.
custom_hooks = [dict(type='RNGStateHook')]
