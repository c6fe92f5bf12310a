"""Data transforms of dbdseg (docs/en/conventions.md)."""
from .formatting import PackBinarySegInputs
from .loading import LoadBinaryAnnotations

__all__ = ['LoadBinaryAnnotations', 'PackBinarySegInputs']
