from .binary_seg_tta_model import BinarySegTTAModel

__all__ = ['BinarySegTTAModel']
