from .activation_head import ActivationHead
from .binary_fcn_head import BinaryFCNHead
from .ram_head import RAMHead
from .rsu_stack_head import RSUStackHead
from .sab_head import SABHead
from .unet_fusion_head import UNetFusionHead

__all__ = [
    'ActivationHead', 'BinaryFCNHead', 'RAMHead', 'RSUStackHead', 'SABHead', 'UNetFusionHead'
]
