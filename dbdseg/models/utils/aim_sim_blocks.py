"""Blocks of :class:`~dbdseg.models.necks.AIMSIMNeck`: MINet's aggregate interaction (AIM) and
self-interaction (SIM) modules.

Source: Y. Pang et al., "Multi-scale Interactive Network for Salient Object Detection" (MINet, CVPR
2020), Sec. 3.2 (AIM) and 3.3 (SIM); the layer-level structure follows the authors' released
code (github.com/lartpang/MINet, ``code/module/MyModule.py``), re-implemented from a description
in our own words (no code of that repository is used). AFIU (M. Qian et al., "Defocus Blur
Detection via Salient Region Detection Prior", arXiv 2011.09677, Sec. 3.2) uses them as the first
two parts of its encoder.

All blocks are built from two primitives:

* "CBR": 3x3 convolution with bias -> BatchNorm -> ReLU (:class:`~dbdseg.models.utils.REBNConv`),
  used for the stage-0 projection of each branch (``proj.<branch>``);
* :class:`CrossScaleMerge`: ``act(norm(sum_s conv3x3_s(x_s)))`` over the (already resampled) inputs
  of one target branch (``stage1.<branch>`` or ``stage2``; ``convs.<source branch>``, ``bn``).

Branch letters: ``h`` (the higher resolution), ``m`` (middle), ``l`` (lower). Cross-scale transfers
resample *before* the 3x3 convolution: "down" is a 2x2 average pooling and "up" nearest-neighbour
enlargement in the AIM; the SIM uses 2x2 average pooling down and bilinear resizing to the exact
size up (MINet's released code).

Resampling to a given size: MINet's AIM uses a fixed factor (nearest x2 up, AvgPool 2x2 down) and
therefore needs inputs whose size is a multiple of 32. Here the AIM resamples *to the target
branch's size* (nearest interpolation to that size up, adaptive average pooling to that size down).
When the sizes are exact factors of two (inputs that are multiples of 32) this is the same
computation as MINet's; other input sizes (e.g. 100x100, whose ResNet levels are 50, 25, 13, 7, 4)
also work (dbdseg's choice; the papers are silent).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from .rsu import REBNConv

__all__ = ['CrossScaleMerge', 'AIM2', 'AIM3', 'SIM', 'resize_up', 'resize_down']


def resize_up(x: Tensor,
              size: Tuple[int, int],
              mode: str = 'nearest',
              align_corners: Optional[bool] = None) -> Tensor:
    """Enlarge ``x`` (N, C, h, w) to ``size`` = (H, W) (H >= h, W >= w).

    ``mode='nearest'``: nearest-neighbour (MINet AIM; identical to ``scale_factor=2`` when
    H = 2h and W = 2w). ``mode='bilinear'``: bilinear with ``align_corners`` (MINet SIM: False).
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == 'nearest':
        return F.interpolate(x, size=size, mode='nearest')
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)


def resize_down(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Average-pool ``x`` (N, C, H, W) down to ``size`` = (h, w).

    Identical to MINet's ``AvgPool2d(2, 2)`` when H = 2h and W = 2w; adaptive average pooling
    otherwise (odd sizes, e.g. a 7x7 stride-32 map under a 13x13 stride-16 map).
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.shape[-2] == 2 * size[0] and x.shape[-1] == 2 * size[1]:
        return F.avg_pool2d(x, kernel_size=2, stride=2)
    return F.adaptive_avg_pool2d(x, size)


class CrossScaleMerge(BaseModule):
    """One interaction node: ``act(norm(sum over sources s of conv3x3_s(x_s)))``.

    Source: MINet (Pang et al. 2020, Sec. 3.2-3.3), stages 1-2 of the released AIM and SIM: each
    convolution is 3x3, and BN is applied to the sum. The inputs must already be resampled to
    this node's resolution.

    Args:
        sources (dict[str, int]): source branch name -> its channels, in a fixed order
            (``convs.<name>`` in the state dict).
        out_channels (int): output channels.
        norm_cfg (dict): normalisation applied to the sum (``bn``). Defaults to BN.
        act_cfg (dict): activation after the normalisation. Defaults to ReLU.
        init_cfg (dict, optional): mmengine init config. Defaults to None (PyTorch
            defaults, as MINet).

    Raises:
        KeyError: ``forward`` is missing a source.
        ValueError: the inputs of ``forward`` differ in spatial size.
    """

    def __init__(self,
                 sources: Dict[str, int],
                 out_channels: int,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        self.convs = nn.ModuleDict({
            name: nn.Conv2d(channels, out_channels, 3, padding=1, bias=True)
            for name, channels in sources.items()
        })
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.activate = build_activation_layer(act_cfg)

    def forward(self, inputs: Dict[str, Tensor]) -> Tensor:
        """``inputs``: source name -> (N, C_s, H, W), all the same H, W. Returns (N, out, H, W)."""
        # int(): under tracing (FLOPs counting, torch.jit) sizes are tensors, which hash by id
        sizes = {name: tuple(int(s) for s in inputs[name].shape[-2:]) for name in self.convs}
        if len(set(sizes.values())) != 1:
            raise ValueError(f'CrossScaleMerge: inputs must share one spatial size, got {sizes}')
        total = None
        for name, conv in self.convs.items():
            y = conv(inputs[name])
            total = y if total is None else total + y
        return self.activate(self.bn(total))


class _AIMBase(BaseModule):
    """Stage 3 shared by :class:`AIM2` and :class:`AIM3`:
    ``out = act(BN(conv3x3(m -> out)) + conv1x1(main_input -> out))`` (MINet, Sec. 3.2); the
    1x1 "identity" projection takes the original main input, has a bias and no BN."""

    def _build_output(self, mid: int, main_in: int, out: int, norm_cfg, act_cfg) -> None:
        self.out_conv = nn.Conv2d(mid, out, 3, padding=1, bias=True)
        self.out_bn = build_norm_layer(norm_cfg, out)[1]
        self.identity = nn.Conv2d(main_in, out, 1, bias=True)
        self.activate = build_activation_layer(act_cfg)

    def _output(self, m: Tensor, main_input: Tensor) -> Tensor:
        return self.activate(self.out_bn(self.out_conv(m)) + self.identity(main_input))


def _check_pyramid(block: str, feats: Sequence[Tensor], channels: Sequence[int]) -> None:
    for i, (x, c) in enumerate(zip(feats, channels)):
        if x.dim() != 4 or x.shape[1] != c:
            raise ValueError(f'{block}: input {i} must be (N, {c}, H, W), got {tuple(x.shape)}')
    for i in range(len(feats) - 1):
        hi, lo = feats[i].shape[-2:], feats[i + 1].shape[-2:]
        if lo[0] > hi[0] or lo[1] > hi[1]:
            raise ValueError(f'{block}: inputs must go from the higher to the lower resolution, '
                             f'got sizes {[tuple(f.shape[-2:]) for f in feats]}')


def _positive(block: str, **values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f'{block}: {name} must be a positive integer, got {value!r}')


class AIM2(_AIMBase):
    """Two-input aggregate interaction block (MINet AIM at the two extreme levels).

    Source: MINet (Pang et al. 2020, Sec. 3.2), the AIM of the two extreme levels. Inputs h
    (higher resolution) and l (lower, about half the size); ``mid`` channels inside:

    1. ``h0 = CBR(h)``, ``l0 = CBR(l)`` (``proj.h``, ``proj.l``);
    2. ``h1 = merge(h0, up(l0))``, ``l1 = merge(l0, down(h0))`` (``stage1.h``, ``stage1.l``);
    3. main = high: ``m = merge(h1, up(l1))``; main = low: ``m = merge(down(h1), l1)``
       (``stage2``);
    4. ``out = ReLU(BN(conv3x3(m)) + conv1x1(main input))`` at the main input's resolution.

    Args:
        in_channels (tuple[int, int]): channels of (h, l).
        out_channels (int): output channels (MINet: 64).
        main (str): ``'high'`` (level 1, output at h's size) or ``'low'`` (level 5, at l's size).
        mid_channels (int, optional): internal width; None = min(in_channels) (MINet).
        norm_cfg, act_cfg (dict): normalisation / activation. Defaults to BN / ReLU.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    Raises:
        ValueError: bad ``main`` or channel counts; inputs of the wrong shape (``forward``).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 main: str = 'high',
                 mid_channels: Optional[int] = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 2:
            raise ValueError(f'AIM2: in_channels must hold 2 values (h, l), got {in_channels!r}')
        if main not in ('high', 'low'):
            raise ValueError(f"AIM2: main must be 'high' or 'low', got {main!r}")
        c_h, c_l = in_channels
        mid = min(c_h, c_l) if mid_channels is None else mid_channels
        _positive('AIM2', c_h=c_h, c_l=c_l, out_channels=out_channels, mid_channels=mid)
        self.in_channels = (c_h, c_l)
        self.main = main
        self.mid_channels = mid
        kw = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.proj = nn.ModuleDict(dict(h=REBNConv(c_h, mid, **kw), l=REBNConv(c_l, mid, **kw)))
        self.stage1 = nn.ModuleDict(
            dict(
                h=CrossScaleMerge(dict(h=mid, l=mid), mid, **kw),
                l=CrossScaleMerge(dict(h=mid, l=mid), mid, **kw)))
        self.stage2 = CrossScaleMerge(dict(h=mid, l=mid), mid, **kw)
        self._build_output(mid, c_h if main == 'high' else c_l, out_channels, norm_cfg, act_cfg)

    def forward(self, h: Tensor, l: Tensor) -> Tensor:  # noqa: E741
        """h (N, C_h, H, W), l (N, C_l, ~H/2, ~W/2) -> (N, out, size of the main input)."""
        _check_pyramid('AIM2', (h, l), self.in_channels)
        size_h, size_l = tuple(h.shape[-2:]), tuple(l.shape[-2:])
        h0, l0 = self.proj['h'](h), self.proj['l'](l)
        h1 = self.stage1['h'](dict(h=h0, l=resize_up(l0, size_h)))
        l1 = self.stage1['l'](dict(h=resize_down(h0, size_l), l=l0))
        if self.main == 'high':
            m = self.stage2(dict(h=h1, l=resize_up(l1, size_h)))
            return self._output(m, h)
        m = self.stage2(dict(h=resize_down(h1, size_l), l=l1))
        return self._output(m, l)


class AIM3(_AIMBase):
    """Three-input aggregate interaction block (MINet AIM at the three middle levels).

    Source: MINet (Pang et al. 2020, Sec. 3.2), the AIM of the three middle levels. Inputs h,
    m, l (each about half the size of the previous); output at m's resolution:

    1. ``h0, m0, l0 = CBR(h), CBR(m), CBR(l)`` (``proj.h/m/l``);
    2. ``h1 = merge(h0, up(m0))``; ``m1 = merge(down(h0), m0, up(l0))``;
       ``l1 = merge(down(m0), l0)`` (``stage1.h/m/l``);
    3. ``m2 = merge(down(h1), m1, up(l1))`` (``stage2``);
    4. ``out = ReLU(BN(conv3x3(m2)) + conv1x1(m))``.

    Args:
        in_channels (tuple[int, int, int]): channels of (h, m, l).
        out_channels (int): output channels (MINet: 64).
        mid_channels (int, optional): internal width; None = min(in_channels) (MINet).
        norm_cfg, act_cfg (dict): normalisation / activation. Defaults to BN / ReLU.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    Raises:
        ValueError: bad channel counts; inputs of the wrong shape (``forward``).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 mid_channels: Optional[int] = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != 3:
            raise ValueError(f'AIM3: in_channels must hold 3 values (h, m, l), got '
                             f'{in_channels!r}')
        c_h, c_m, c_l = in_channels
        mid = min(in_channels) if mid_channels is None else mid_channels
        _positive('AIM3', c_h=c_h, c_m=c_m, c_l=c_l, out_channels=out_channels, mid_channels=mid)
        self.in_channels = (c_h, c_m, c_l)
        self.mid_channels = mid
        kw = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.proj = nn.ModuleDict(
            dict(
                h=REBNConv(c_h, mid, **kw), m=REBNConv(c_m, mid, **kw), l=REBNConv(c_l, mid, **kw)))
        self.stage1 = nn.ModuleDict(
            dict(
                h=CrossScaleMerge(dict(h=mid, m=mid), mid, **kw),
                m=CrossScaleMerge(dict(h=mid, m=mid, l=mid), mid, **kw),
                l=CrossScaleMerge(dict(m=mid, l=mid), mid, **kw)))
        self.stage2 = CrossScaleMerge(dict(h=mid, m=mid, l=mid), mid, **kw)
        self._build_output(mid, c_m, out_channels, norm_cfg, act_cfg)

    def forward(self, h: Tensor, m: Tensor, l: Tensor) -> Tensor:  # noqa: E741
        """h (N, C_h, H, W), m (N, C_m, ~H/2, ~W/2), l (N, C_l, ~H/4, ~W/4)
        -> (N, out, m's size)."""
        _check_pyramid('AIM3', (h, m, l), self.in_channels)
        sh, sm, sl = tuple(h.shape[-2:]), tuple(m.shape[-2:]), tuple(l.shape[-2:])
        h0, m0, l0 = self.proj['h'](h), self.proj['m'](m), self.proj['l'](l)
        h1 = self.stage1['h'](dict(h=h0, m=resize_up(m0, sh)))
        m1 = self.stage1['m'](dict(h=resize_down(h0, sm), m=m0, l=resize_up(l0, sm)))
        l1 = self.stage1['l'](dict(m=resize_down(m0, sl), l=l0))
        m2 = self.stage2(dict(h=resize_down(h1, sm), m=m1, l=resize_up(l1, sm)))
        return self._output(m2, m)


class SIM(BaseModule):
    """Self-interaction module (MINet SIM): a two-resolution interaction on one feature map.

    Source: MINet (Pang et al. 2020, Sec. 3.3). For x (N, C_h, H, W), ``down`` = AvgPool 2x2
    and ``up`` = bilinear resizing to (H, W) (``align_corners=False``):

    1. ``h0 = CBR(x)`` (C_h -> C_h, ``proj.h``); ``l0 = CBR(down(x))`` (C_h -> C_l, ``proj.l``);
    2. ``h1 = merge(h0, up(l0))`` (-> C_h, ``stage1.h``); ``l1 = merge(l0, down(h0))``
       (-> C_l, ``stage1.l``);
    3. ``h2 = merge(h1, up(l1))`` (-> C_h, ``stage2``);
    4. ``out = h2 + x`` (residual; channels unchanged).

    MINet-Res50 uses SIM(64, 32) (194,464 parameters).

    Args:
        channels (int): C_h, input = output channels.
        low_channels (int): C_l, width of the half-resolution branch.
        norm_cfg, act_cfg (dict): normalisation / activation. Defaults to BN / ReLU.
        align_corners (bool): of the bilinear up-resizing. MINet: False.
        init_cfg (dict, optional): mmengine init config. Defaults to None.

    Raises:
        ValueError: bad channel counts; an input of the wrong shape or smaller than 2x2
            (``forward``).
    """

    def __init__(self,
                 channels: int,
                 low_channels: int,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        _positive('SIM', channels=channels, low_channels=low_channels)
        self.channels = channels
        self.low_channels = low_channels
        self.align_corners = align_corners
        kw = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.proj = nn.ModuleDict(
            dict(h=REBNConv(channels, channels, **kw), l=REBNConv(channels, low_channels, **kw)))
        self.stage1 = nn.ModuleDict(
            dict(
                h=CrossScaleMerge(dict(h=channels, l=low_channels), channels, **kw),
                l=CrossScaleMerge(dict(h=channels, l=low_channels), low_channels, **kw)))
        self.stage2 = CrossScaleMerge(dict(h=channels, l=low_channels), channels, **kw)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_h, H, W) -> (N, C_h, H, W); H, W >= 2."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f'SIM: expected an (N, {self.channels}, H, W) input, got '
                             f'{tuple(x.shape)}')
        if x.shape[-2] < 2 or x.shape[-1] < 2:
            raise ValueError(f'SIM: the input must be at least 2x2 (it is pooled 2x2), got '
                             f'{tuple(x.shape[-2:])}')
        size = tuple(x.shape[-2:])

        def up(t):
            return resize_up(t, size, mode='bilinear', align_corners=self.align_corners)

        def down(t):
            return F.avg_pool2d(t, kernel_size=2, stride=2)

        h0 = self.proj['h'](x)
        l0 = self.proj['l'](down(x))
        h1 = self.stage1['h'](dict(h=h0, l=up(l0)))
        l1 = self.stage1['l'](dict(h=down(h0), l=l0))
        h2 = self.stage2(dict(h=h1, l=up(l1)))
        return h2 + x
