"""SRFBNeck: one Selective Reception Field Block per feature level.

Source: Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2 (SRFB,
Fig. 4), with the layer details of the official DD code (github.com/vinthony/depth-distillation,
``models/blocks.py``); see :class:`~dbdseg.models.utils.SRFB`. In DD the SRFB sits in the decode
head's per-level block (:class:`~dbdseg.models.decode_heads.SABHead`); ``SRFBNeck`` (a public
name) offers it to other models as a neck, which the paper does not do.
"""
from typing import List, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from dbdseg.registry import MODELS

__all__ = ['SRFBNeck']


@MODELS.register_module()
class SRFBNeck(BaseModule):
    """Apply one block (default :class:`~dbdseg.models.utils.SRFB`) to each input level.

    Each level i gets ``MODELS.build(dict(block_cfg, in_channels=in_channels[i],
    out_channels=out_channels[i], scale_factor=1))``: the block keeps the resolution (no
    upsampling, unlike the DD decoder), so the neck maps a pyramid to a pyramid of the same sizes
    with new widths and the SRFB's multi-receptive-field selection (receptive field up to 43 px at
    each level). The block type is a config field (``'SRFB'``, ``'RFB'``, ``'UpsampleConvBlock'``
    or any registered block with the same arguments and ``forward(x)``).

    Args:
        in_channels (Sequence[int]): channels of the input levels.
        out_channels (int | Sequence[int]): output channels, one per level or one for all.
        block_cfg (dict): block config without the widths. Defaults to ``dict(type='SRFB')``
            (reduction 4, kernel = dilation = 3, 5, 7, cascaded, with identity, SK hidden
            max(C/16, 32)).
        in_index (Sequence[int], optional): which input levels to process (the others are
            dropped). Defaults to None: all, in order.
        init_cfg (dict, optional): mmengine init config.

    Shapes: ``forward(inputs)`` takes the tuple of (N, in_channels[i], H_i, W_i) maps (all levels
    of the backbone; ``in_index`` picks) and returns a tuple of (N, out_channels[i], H_i, W_i).

    Raises:
        ValueError: empty ``in_channels``; ``out_channels`` / ``in_index`` of the wrong length; in
            ``forward``, fewer inputs than ``in_index`` needs or a level with other channels.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Union[int, Sequence[int]],
                 block_cfg: dict = dict(type='SRFB'),
                 in_index: Sequence[int] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        in_channels = tuple(int(c) for c in in_channels)
        if not in_channels:
            raise ValueError('SRFBNeck: in_channels must not be empty')
        if isinstance(out_channels, int):
            out_channels = (out_channels, ) * len(in_channels)
        out_channels = tuple(int(c) for c in out_channels)
        if len(out_channels) != len(in_channels):
            raise ValueError(f'SRFBNeck: out_channels {out_channels} needs one width per level '
                             f'of in_channels {in_channels}')
        if in_index is None:
            in_index = tuple(range(len(in_channels)))
        in_index = tuple(int(i) for i in in_index)
        if len(in_index) != len(in_channels):
            raise ValueError(f'SRFBNeck: in_index {in_index} needs one entry per level of '
                             f'in_channels {in_channels}')
        if not isinstance(block_cfg, dict) or 'type' not in block_cfg:
            raise ValueError(f'SRFBNeck: block_cfg must be a dict with a type, got {block_cfg!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.blocks = nn.ModuleList()
        for cin, cout in zip(in_channels, out_channels):
            cfg = dict(block_cfg)
            cfg.update(in_channels=cin, out_channels=cout, scale_factor=1)
            self.blocks.append(MODELS.build(cfg))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Run block i on ``inputs[in_index[i]]``; see the class docstring."""
        if len(inputs) <= max(self.in_index):
            raise ValueError(f'SRFBNeck: got {len(inputs)} input levels, in_index {self.in_index} '
                             'needs more')
        outs: List[Tensor] = []
        for block, idx, cin in zip(self.blocks, self.in_index, self.in_channels):
            x = inputs[idx]
            if x.dim() != 4 or x.shape[1] != cin:
                raise ValueError(f'SRFBNeck: input level {idx} must be (N, {cin}, H, W), got '
                                 f'{tuple(x.shape)}')
            outs.append(block(x))
        return tuple(outs)
