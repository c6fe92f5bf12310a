"""Residual U-blocks (RSU-L and RSU-LF) of U²-Net, and their conv-BN-ReLU unit.

Source: X. Qin et al., "U²-Net: Going Deeper with Nested U-Structure for Salient Object Detection"
(Pattern Recognition 2020), Sec. 3.1 and Fig. 2, with the details the paper leaves open (bias,
ceil-mode pooling, bilinear resizing) as in the official code, github.com/xuebinqin/U-2-Net,
``model/u2net.py`` (written from a description of it; none of its code is used). AFIU (Qian et
al. 2020, Sec. 3.2 and Fig. 4) puts one RSU on every decoder level
(:class:`~dbdseg.models.decode_heads.RSUStackHead`), which is why the blocks live here, shared.

State-dict names (``tools/model_converters/u2net2dbdseg.py`` maps U²-Net checkpoints onto them):

========================= ==========================================================================
dbdseg (:class:`RSU`)     role
========================= ==========================================================================
``conv_in``               in -> out, dilation 1 (U²-Net ``rebnconvin``)
``encoders.0``            out -> mid, dilation 1 (``rebnconv1``)
``encoders.k``, k >= 1    mid -> mid; RSU-L: after a 2x2 max-pool, dilation 1; RSU-LF: no pool,
                          dilation 2^k (``rebnconv{k+1}``)
``bottom``                mid -> mid; RSU-L: dilation 2; RSU-LF: dilation 2^(L-1) (``rebnconv{L}``)
``decoders.k``, k >= 1    cat[deeper, encoders.k] 2 mid -> mid; RSU-LF: dilation 2^k
                          (``rebnconv{k+1}d``)
``decoders.0``            cat[up(decoders.1), encoders.0] 2 mid -> out (``rebnconv1d``)
========================= ==========================================================================

Each entry is a :class:`REBNConv` (``.conv``: 3x3 convolution with bias, ``.bn``: normalisation,
then the activation), so a U²-Net key ``stageX.rebnconv3d.conv_s1.weight`` becomes
``decoders.2.conv.weight`` and ``bn_s1`` becomes ``bn``.
"""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

__all__ = ['REBNConv', 'RSU']


class REBNConv(BaseModule):
    """3x3 convolution (with bias) -> normalisation -> activation: U²-Net's "REBNCONV".

    Source: U²-Net (Qin et al. 2020, Sec. 3.1; official code ``model/u2net.py``). Padding equals
    the dilation, so the spatial size is kept: (N, in_channels, H, W) -> (N, out_channels, H, W).

    The convolution keeps its bias although a BatchNorm follows, as U²-Net does (the parameter
    counts and checkpoint keys depend on it). Weights use PyTorch's default initialisation, as the
    reference (no ``init_cfg`` by default).

    Args:
        in_channels (int): input channels (> 0).
        out_channels (int): output channels (> 0).
        dilation (int): dilation (= padding) of the 3x3 convolution (>= 1). Defaults to 1.
        norm_cfg (dict): normalisation layer (mmcv ``build_norm_layer``), stored as ``bn``
            whatever its type. Defaults to ``dict(type='BN')``.
        act_cfg (dict): activation (mmcv ``build_activation_layer``). Defaults to ReLU.
        init_cfg (dict, optional): mmengine initialisation config. Defaults to None.

    Raises:
        ValueError: a channel count <= 0 or a dilation < 1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 dilation: int = 1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if int(in_channels) <= 0 or int(out_channels) <= 0:
            raise ValueError(f'REBNConv: channels must be positive, got in_channels={in_channels}, '
                             f'out_channels={out_channels}')
        if int(dilation) < 1:
            raise ValueError(f'REBNConv: dilation must be >= 1, got {dilation}')
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=True)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.activate = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H, W)."""
        return self.activate(self.bn(self.conv(x)))


class RSU(BaseModule):
    """Residual U-block of height L: RSU-L (pooling U-Net) or RSU-LF (dilated, no pooling).

    Source: U²-Net (Qin et al. 2020, Sec. 3.1, Fig. 2; official code ``model/u2net.py``). With
    ``x_in = conv_in(x)``:

    * RSU-L (``dilated=False``): ``e_1 = enc_1(x_in)``; ``e_k = enc_k(MaxPool(e_(k-1)))`` for
      k = 2..L-1 (2x2, stride 2, ``ceil_mode=True``: L-2 poolings); bottom ``e_L =
      bottom(e_(L-1))`` with dilation 2 and no pooling; decoder ``d_(L-1) = dec_(L-1)(cat[e_L,
      e_(L-1)])``, ``d_k = dec_k(cat[Up(d_(k+1)), e_k])`` for k = L-2..1, where Up is bilinear
      resizing to e_k's exact size. ``d_1`` has ``out_channels``.
    * RSU-LF (``dilated=True``, U²-Net's RSU-4F for L = 4): no pooling and no resizing; encoder k
      and decoder k use dilation 2^(k-1), the bottom 2^(L-1) (RSU-4F: 1, 2, 4 / 8 / 4, 2, 1).

    Output ``d_1 + x_in`` (residual at the block's input resolution).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W) for any H, W >= 1 (odd sizes are
    handled by the ceil-mode pooling and the exact-size resizing).

    Args:
        height (int): L >= 2 (U²-Net uses 4..7). RSU-L pools L-2 times, so its innermost map is
            about H / 2^(L-2).
        in_channels (int): input channels.
        mid_channels (int): channels inside the U (``M`` in U²-Net).
        out_channels (int): output channels (also of ``conv_in``, for the residual).
        dilated (bool): RSU-LF instead of RSU-L. Defaults to False.
        norm_cfg (dict): normalisation of every :class:`REBNConv`. Defaults to BN.
        act_cfg (dict): activation of every :class:`REBNConv`. Defaults to ReLU.
        align_corners (bool): of the bilinear resizing in RSU-L's decoder. U²-Net: False.
        init_cfg (dict, optional): mmengine initialisation config. Defaults to None (PyTorch
            defaults).

    Raises:
        ValueError: ``height`` < 2 or not an integer; a channel count <= 0; an input that is not
            4-D or has the wrong number of channels (in ``forward``).
    """

    def __init__(self,
                 height: int,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 dilated: bool = False,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(height, bool) or not isinstance(height, int) or height < 2:
            raise ValueError(f'RSU: height must be an integer >= 2, got {height!r}')
        for name, value in (('in_channels', in_channels), ('mid_channels', mid_channels),
                            ('out_channels', out_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f'RSU: {name} must be a positive integer, got {value!r}')
        self.height = height
        self.in_channels = in_channels
        self.mid_channels = mid_channels
        self.out_channels = out_channels
        self.dilated = bool(dilated)
        self.align_corners = align_corners

        def unit(cin, cout, dilation=1):
            return REBNConv(cin, cout, dilation, norm_cfg=norm_cfg, act_cfg=act_cfg)

        def level_dilation(k):  # level k = 0..L-2 (encoders / decoders index)
            return 2**k if self.dilated else 1

        self.conv_in = unit(in_channels, out_channels)
        self.encoders = nn.ModuleList(
            [unit(out_channels, mid_channels)] +
            [unit(mid_channels, mid_channels, level_dilation(k)) for k in range(1, height - 1)])
        self.bottom = unit(mid_channels, mid_channels, 2**(height - 1) if self.dilated else 2)
        self.decoders = nn.ModuleList(
            [unit(2 * mid_channels, out_channels)] +
            [unit(2 * mid_channels, mid_channels, level_dilation(k)) for k in range(1, height - 1)])
        self.pool = nn.Identity() if self.dilated else nn.MaxPool2d(2, stride=2, ceil_mode=True)

    @property
    def name(self) -> str:
        """U²-Net's name of this block, e.g. ``'RSU7'`` or ``'RSU4F'``."""
        return f'RSU{self.height}' + ('F' if self.dilated else '')

    @property
    def num_pools(self) -> int:
        """Number of 2x2 poolings inside the block (L-2 for RSU-L, 0 for RSU-LF)."""
        return 0 if self.dilated else self.height - 2

    def extra_repr(self) -> str:
        return (f'{self.name}(in={self.in_channels}, mid={self.mid_channels}, '
                f'out={self.out_channels})')

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H, W)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{self.name}: expected an (N, {self.in_channels}, H, W) input, got '
                             f'{tuple(x.shape)}')
        x_in = self.conv_in(x)
        skips: List[Tensor] = []
        h = x_in
        for k, enc in enumerate(self.encoders):
            h = enc(h if k == 0 else self.pool(h))
            skips.append(h)
        d = self.bottom(h)
        for k in range(len(self.decoders) - 1, -1, -1):
            skip = skips[k]
            if d.shape[-2:] != skip.shape[-2:]:
                d = F.interpolate(
                    d, size=skip.shape[-2:], mode='bilinear', align_corners=self.align_corners)
            d = self.decoders[k](torch.cat([d, skip], dim=1))
        return d + x_in
