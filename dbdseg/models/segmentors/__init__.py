from .binary_seg_tta_model import BinarySegTTAModel
from .olr_encoder_decoder import OLREncoderDecoder
from .patch_swap_encoder_decoder import PatchSwapEncoderDecoder

__all__ = ['BinarySegTTAModel', 'OLREncoderDecoder', 'PatchSwapEncoderDecoder']
