"""dbdseg registers into mmsegmentation's registries (scope ``mmseg``).

Re-exported here so dbdseg modules write ``from dbdseg.registry import MODELS``.
See ARCHITECTURE.md Section 3.
"""
from mmseg.registry import (DATASETS, EVALUATOR, HOOKS, METRICS, MODELS, TRANSFORMS,
                            VISUALIZERS)

__all__ = ['DATASETS', 'EVALUATOR', 'HOOKS', 'METRICS', 'MODELS', 'TRANSFORMS', 'VISUALIZERS']
