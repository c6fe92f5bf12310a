"""Data transforms of dbdseg (ARCHITECTURE.md Section 4)."""
from .formatting import PackBinarySegInputs
from .loading import LoadBinaryAnnotations

__all__ = ['LoadBinaryAnnotations', 'PackBinarySegInputs']
