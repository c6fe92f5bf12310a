# Runtime shared by every dbdseg config (mmengine runner, mmseg scope).
default_scope = 'mmseg'
custom_imports = dict(imports=['dbdseg'], allow_failed_imports=False)
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
# every checkpoint, restored by `tools/train.py --resume`; it also makes the CheckpointHook write
# checkpoints and `last_checkpoint` atomically (AtomicCheckpointHook). Configs that set their own
# custom_hooks should keep this entry.
custom_hooks = [dict(type='RNGStateHook')]
