from .loss_inputs import binary_loss_inputs
from .patch_swap import sample_swap_boxes, swap_patches
from .pretrained import PretrainedErrorMixin, pretrained_fetch_help, pretrained_source
from .rsu import REBNConv, RSU
from .srfb import RFB, SRFB, UpsampleConvBlock

__all__ = [
    'REBNConv', 'RSU',
    'SRFB', 'RFB', 'UpsampleConvBlock',
    'PretrainedErrorMixin', 'pretrained_fetch_help', 'pretrained_source', 'sample_swap_boxes',
    'swap_patches', 'binary_loss_inputs'
]
