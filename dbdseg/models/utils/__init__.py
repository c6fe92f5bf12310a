from .aim_sim_blocks import AIM2, AIM3, SIM, CrossScaleMerge
from .binary_accuracy import BinaryAccuracyMixin
from .loss_inputs import binary_loss_inputs
from .patch_swap import sample_swap_boxes, swap_patches
from .per_level import per_level
from .pretrained import (PretrainedErrorMixin, frozen_random_message, pretrained_fetch_help,
                         pretrained_source)
from .rfb import RFB
from .rsu import RSU, REBNConv
from .side_output_losses import side_loss_key, side_output_losses
from .srfb import SRFB
from .upsample_conv_block import UpsampleConvBlock

__all__ = [
    'AIM2', 'AIM3', 'SIM', 'CrossScaleMerge', 'REBNConv', 'RSU', 'SRFB', 'RFB', 'UpsampleConvBlock',
    'BinaryAccuracyMixin', 'PretrainedErrorMixin', 'frozen_random_message', 'pretrained_fetch_help',
    'pretrained_source', 'sample_swap_boxes', 'swap_patches', 'binary_loss_inputs', 'per_level',
    'side_loss_key', 'side_output_losses'
]
