"""TinySharpNet: a deliberately small backbone of the example project (projects/README.md).

Not from a paper: it exists to show how a project registers a backbone that dbdseg and mmseg
build from a config (``dict(type='TinySharpNet', ...)``) without touching ``dbdseg/``.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from dbdseg.registry import MODELS

# 4-neighbour Laplacian; it sums to 0, so it answers to local contrast (texture, edges) and gives
# 0 on flat regions, the classic cue of in-focus pixels (e.g. Pech-Pacheco et al., ICPR 2000).
_LAPLACIAN_3X3 = ((0., 1., 0.), (1., -4., 1.), (0., 1., 0.))


@MODELS.register_module()
class TinySharpNet(BaseModule):
    """Two-stage convolutional backbone with an optional fixed Laplacian input channel.

    Layout (every conv is an mmcv ``ConvModule``: 3x3 conv + norm + activation)::

        input (B, in_channels, H, W)
          [+ |Laplacian of the channel mean| (B, 1, H, W), not learned]  if use_laplacian
        stage 1: ``num_convs`` convs, stride 1   -> (B, base_channels, H, W)
        stage 2: one stride-2 conv + ``num_convs - 1`` convs
                                                  -> (B, 2 * base_channels, ceil(H/2), ceil(W/2))

    The Laplacian is taken on the mean over channels of the input the model receives (normally the
    image after ``SegDataPreProcessor``'s mean/std normalisation); its absolute value is
    concatenated as one more input channel, so the first conv sees ``in_channels + 1`` channels.
    The kernel is a buffer (saved in checkpoints, never trained).

    Args:
        in_channels (int): Image channels. Defaults to 3.
        base_channels (int): Channels of stage 1; stage 2 has twice as many. Defaults to 8.
        num_convs (int): Convs per stage (>= 1). Defaults to 2.
        use_laplacian (bool): Add the |Laplacian| channel. Defaults to True.
        norm_cfg (dict, optional): Norm layer config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict | list[dict], optional): mmengine initialisation config. Defaults to None
            (each ``ConvModule`` initialises itself: Kaiming convs, norm weight 1 / bias 0).

    Returns (``forward``):
        tuple[Tensor, Tensor]: the stride-1 and stride-2 feature maps (shapes above).

    Raises:
        ValueError: ``in_channels``, ``base_channels`` or ``num_convs`` below 1; in ``forward``,
            an input that is not 4-D with ``in_channels`` channels.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 8,
                 num_convs: int = 2,
                 use_laplacian: bool = True,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels), ('base_channels', base_channels),
                            ('num_convs', num_convs)):
            if int(value) < 1:
                raise ValueError(f'TinySharpNet: {name} must be >= 1, got {value}')
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.use_laplacian = use_laplacian
        self.out_channels = (base_channels, 2 * base_channels)
        if use_laplacian:
            kernel = torch.tensor(_LAPLACIAN_3X3).view(1, 1, 3, 3)
            self.register_buffer('laplacian_kernel', kernel)

        def conv(cin: int, cout: int, stride: int = 1) -> ConvModule:
            return ConvModule(
                cin, cout, 3, stride=stride, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)

        c1, c2 = self.out_channels
        first_in = in_channels + (1 if use_laplacian else 0)
        self.stage1 = nn.Sequential(
            conv(first_in, c1), *[conv(c1, c1) for _ in range(num_convs - 1)])
        self.stage2 = nn.Sequential(
            conv(c1, c2, stride=2), *[conv(c2, c2) for _ in range(num_convs - 1)])

    def laplacian(self, x: torch.Tensor) -> torch.Tensor:
        """|Laplacian| of the channel mean of ``x``: (B, C, H, W) -> (B, 1, H, W), float.

        Borders are replicated, so a constant image gives exactly 0 everywhere.
        """
        grey = x.mean(dim=1, keepdim=True)
        grey = F.pad(grey, (1, 1, 1, 1), mode='replicate')
        return F.conv2d(grey, self.laplacian_kernel.to(grey.dtype)).abs()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, in_channels, H, W) -> (stride-1 features, stride-2 features); see the class doc."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'TinySharpNet: expected input (B, {self.in_channels}, H, W), got '
                             f'{tuple(x.shape)}')
        if self.use_laplacian:
            x = torch.cat([x, self.laplacian(x)], dim=1)
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        return f1, f2
