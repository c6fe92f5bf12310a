"""UpsampleConvBlock: the plain decoder block of depth distillation's Table 2 ablations.

Source: X. Cun, C.-M. Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2
("the upsampling layer with convolution instead of deconvolution") and Table 2 ("FCN" and "+D"
rows). The frame is :class:`~dbdseg.models.utils.srfb.SRFB`'s with the pyramid removed.
"""
from dbdseg.registry import MODELS
from .srfb import UpsampleReduceExpand

__all__ = ['UpsampleConvBlock']


@MODELS.register_module()
class UpsampleConvBlock(UpsampleReduceExpand):
    """Plain decoder block of the "FCN" and "+D" rows of Table 2 (Cun & Pun 2020, Sec. 3.2).

    ``upsample -> 3x3 conv C_in -> C_in / reduction (ReLU, BN) -> 1x1 conv -> C_out (ReLU, BN)``:
    the SRFB frame with the pyramid removed, so the ablation changes only the context module. The
    paper does not print the FCN decoder; this reading is dbdseg's choice (see
    configs/depth_distillation/README.md, 'What the paper does not say').

    Args: as :class:`~dbdseg.models.utils.srfb.SRFB` (``in_channels``, ``out_channels``,
    ``reduction``, ``inner_channels``, ``scale_factor``, ``upsample_mode``, ``align_corners``,
    ``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``conv_order``, ``init_cfg``; keyword-only after
    ``align_corners``).

    Shapes: ``forward(x, size=None)``: (N, in_channels, H, W) -> (N, out_channels, H', W'), see
    :meth:`~dbdseg.models.utils.srfb.UpsampleReduceExpand.forward`.

    Raises:
        TypeError: a pyramid argument (there is no pyramid).
        ValueError: as :class:`~dbdseg.models.utils.srfb.SRFB`.
    """
