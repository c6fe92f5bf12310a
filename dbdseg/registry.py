"""dbdseg registers into mmsegmentation's registries (scope ``mmseg``).

Re-exported here so dbdseg modules write ``from dbdseg.registry import MODELS``.
See ARCHITECTURE.md Section 3.
"""
from mmseg.registry import (DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS,
                            VISUALIZERS)

__all__ = ['DATASETS', 'HOOKS', 'METRICS', 'MODELS', 'TRANSFORMS', 'VISUALIZERS']
