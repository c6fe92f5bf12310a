"""dbdseg registers into mmsegmentation's registries (scope ``mmseg``).

Re-exported here so dbdseg modules write ``from dbdseg.registry import MODELS``. Every registering
subpackage imports this module first, and it imports mmseg only after
:func:`dbdseg.utils.version_guard.check_versions`, so an unsupported OpenMMLab stack is reported
with the supported versions named before mmseg's own imports fail.
"""
from dbdseg.utils.version_guard import checked_import

_mmseg_registry = checked_import('mmseg.registry')
DATASETS = _mmseg_registry.DATASETS
EVALUATOR = _mmseg_registry.EVALUATOR
HOOKS = _mmseg_registry.HOOKS
METRICS = _mmseg_registry.METRICS
MODELS = _mmseg_registry.MODELS
TRANSFORMS = _mmseg_registry.TRANSFORMS
VISUALIZERS = _mmseg_registry.VISUALIZERS

__all__ = ['DATASETS', 'EVALUATOR', 'HOOKS', 'METRICS', 'MODELS', 'TRANSFORMS', 'VISUALIZERS']
