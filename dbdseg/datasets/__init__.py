"""Datasets and data transforms of dbdseg (docs/en/conventions.md)."""
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
from .transforms import LoadBinaryAnnotations, PackBinarySegInputs
from .validation_split import draw_validation_split, write_validation_split

__all__ = [
    'BinarySegDataset', 'CUHKDBDDataset', 'DUTDBDDataset', 'DUTSDataset', 'ECSSDDataset',
    'HKUISDataset', 'PASCALSDataset', 'DUTOMRONDataset', 'SODDataset', 'MSRABDataset',
    'MultiSetDataset', 'LoadBinaryAnnotations', 'PackBinarySegInputs', 'draw_validation_split',
    'write_validation_split'
]
