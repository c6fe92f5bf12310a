from .patch_swap import sample_swap_boxes, swap_patches
from .pretrained import PretrainedErrorMixin, pretrained_fetch_help, pretrained_source

__all__ = [
    'PretrainedErrorMixin', 'pretrained_fetch_help', 'pretrained_source', 'sample_swap_boxes',
    'swap_patches'
]
