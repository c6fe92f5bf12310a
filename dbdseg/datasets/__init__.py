"""Datasets and data transforms of dbdseg (ARCHITECTURE.md Section 4)."""
from .binary_seg_dataset import BinarySegDataset
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

__all__ = ['BinarySegDataset'] + list(_transforms_all)
