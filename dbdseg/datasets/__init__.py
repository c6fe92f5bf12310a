"""Datasets and data transforms of dbdseg (ARCHITECTURE.md Section 4)."""
from .binary_seg_dataset import BinarySegDataset
from .cuhk_dbd_dataset import CUHKDBDDataset
from .dut_dbd_dataset import DUTDBDDataset
from .dut_omron_dataset import DUTOMRONDataset
from .duts_dataset import DUTSDataset
from .ecssd_dataset import ECSSDDataset
from .hku_is_dataset import HKUISDataset
from .msra_b_dataset import MSRABDataset
from .multi_set_dataset import MultiSetDataset
from .pascal_s_dataset import PASCALSDataset
from .sod_dataset import SODDataset
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms_all

__all__ = [
    'BinarySegDataset', 'CUHKDBDDataset', 'DUTDBDDataset', 'DUTSDataset', 'ECSSDDataset',
    'HKUISDataset', 'PASCALSDataset', 'DUTOMRONDataset', 'SODDataset', 'MSRABDataset',
    'MultiSetDataset'
] + list(_transforms_all)
