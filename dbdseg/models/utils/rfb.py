"""RFB: the SRFB of depth distillation without selective attention (Table 2, "+D+RFB+SA").

Source: X. Cun, C.-M. Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 4.2
("the model without selective attention (similar to RFB [22])") and Table 2. The frame and the
pyramid are :class:`~dbdseg.models.utils.srfb.SRFB`'s; only the merge of the pyramid differs.
"""
import torch
from torch import Tensor

from dbdseg.registry import MODELS
from .srfb import DilatedPyramid, UpsampleReduceExpand, biased_conv

__all__ = ['RFB', 'ReceptiveFieldPyramid']


class ReceptiveFieldPyramid(DilatedPyramid):
    """The SRFB pyramid merged WITHOUT selection (Cun & Pun 2020, Table 2 "+D+RFB+SA", Sec. 4.2).

    ``merge='concat'`` (the default): concatenate the M maps and fuse them with a 1x1 convolution
    M*C -> C (bias) + BN + ReLU in ``branch_order`` -- the merge of Liu et al.'s RFB.
    ``merge='sum'``: ``U = sum_m B_m`` (SRFB with equal, fixed branch weights; no parameters).
    The paper does not describe the variant further; both readings are dbdseg's choice (see
    configs/depth_distillation/README.md, 'What the paper does not say').

    Args:
        channels (int): C.
        merge (str): 'concat' or 'sum'. Defaults to 'concat'.
        **kwargs: the pyramid arguments of :class:`~dbdseg.models.utils.srfb.DilatedPyramid`,
            keyword-only.

    Shapes: (N, C, H, W) -> (N, C, H, W).

    Raises:
        ValueError: an unknown ``merge``; as :class:`~dbdseg.models.utils.srfb.DilatedPyramid`.
    """

    def __init__(self, channels: int, *, merge: str = 'concat', **kwargs):
        super().__init__(channels, **kwargs)
        if merge not in ('concat', 'sum'):
            raise ValueError(f"merge must be 'concat' or 'sum', got {merge!r}")
        self.merge = merge
        if merge == 'concat':
            self.fuse = biased_conv(channels * self.num_branches, channels, 1, self._layer_cfgs)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        maps = self.branch_maps(x)
        if self.merge == 'sum':
            return torch.stack(maps, dim=0).sum(dim=0)
        return self.fuse(torch.cat(maps, dim=1))


@MODELS.register_module()
class RFB(UpsampleReduceExpand):
    """SRFB without selection: Table 2's "+D+RFB+SA" block (Cun & Pun 2020, Sec. 4.2).

    Same frame and pyramid as :class:`~dbdseg.models.utils.srfb.SRFB` (identity + cascaded
    dilated branches), merged by :class:`ReceptiveFieldPyramid`: ``merge='concat'``
    (concatenation + 1x1 conv, as Liu et al.'s RFB merges) or ``merge='sum'`` (plain sum). The
    paper gives no further detail; the merge is dbdseg's choice.

    Args:
        merge (str): 'concat' or 'sum'. Defaults to 'concat'.
        Other arguments: as :class:`~dbdseg.models.utils.srfb.SRFB` (without the SK arguments;
            keyword-only after ``align_corners``; ``merge`` and the pyramid arguments go to
            :class:`ReceptiveFieldPyramid`).

    Shapes: ``forward(x, size=None)``: (N, in_channels, H, W) -> (N, out_channels, H', W'), see
    :meth:`~dbdseg.models.utils.srfb.UpsampleReduceExpand.forward`.

    Raises:
        ValueError: as :class:`~dbdseg.models.utils.srfb.SRFB`; an unknown ``merge``.
    """

    pyramid_type = ReceptiveFieldPyramid
