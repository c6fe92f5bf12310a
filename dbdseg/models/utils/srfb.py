"""SRFB, the decoder block of depth distillation (DD), and the frame its Table 2 variants share.

Source: X. Cun, C.-M. Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2
("Selective Reception Field Block", Fig. 3-4) and Table 2. Where the paper is silent the layers
follow the authors' released model code (github.com/vinthony/depth-distillation,
``models/blocks.py``: ``UpsampleSKConv`` + ``SKSPP``), described here in our own words.

The three DD decoder blocks share one frame (:class:`UpsampleReduceExpand`)::

    x (N, C_in, H, W)
      -> upsample (nearest, x``scale_factor`` or to a given size)      step 1
      -> 3x3 conv C_in -> C_inner (bias) -> ReLU -> BN                 step 2  (``reduce``)
      -> context module on C_inner channels                           step 3  (``pyramid``)
      -> 1x1 conv C_inner -> C_out (bias) -> ReLU -> BN                step 4  (``expand``)

and differ in step 3 (one registered class per file):

* :class:`SRFB` (this file, the paper's block): selective kernel over a pyramid of the identity
  plus cascaded dilated convolutions (kernel = dilation = 3, 5, 7; receptive field up to 43, paper
  Sec. 3.2);
* :class:`~dbdseg.models.utils.rfb.RFB` ("+D+RFB+SA" row of Table 2): the same pyramid merged
  without selection;
* :class:`~dbdseg.models.utils.upsample_conv_block.UpsampleConvBlock` (the "FCN" / "+D" rows): no
  pyramid.

They are registered in ``MODELS`` so that :class:`~dbdseg.models.decode_heads.SABHead` and
:class:`~dbdseg.models.necks.SRFBNeck` build them from a config dict (``block_cfg``) and a user can
swap one for another, or for any block with the same ``(in_channels, out_channels, scale_factor)``
arguments and ``forward(x, size=None)``.
"""
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from dbdseg.registry import MODELS

__all__ = [
    'SRFB', 'DilatedPyramid', 'SelectiveReceptiveFieldPyramid', 'UpsampleReduceExpand',
    'biased_conv', 'conv_module'
]

_ORDERS = (('conv', 'norm', 'act'), ('conv', 'act', 'norm'), ('norm', 'conv', 'act'))


def _check_order(order, name: str) -> Tuple[str, str, str]:
    order = tuple(order)
    if order not in _ORDERS:
        raise ValueError(f'{name} must be one of {list(_ORDERS)}, got {order}')
    return order


def conv_module(*args, **kwargs) -> ConvModule:
    """mmcv ``ConvModule`` without its "Unnecessary conv bias before batch/instance norm" warning:
    the convolutions of DD's released model keep their bias in front of BN, and its parameter
    counts (see :class:`SRFB`) include those biases."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Unnecessary conv bias')
        return ConvModule(*args, **kwargs)


def _layer_cfgs(conv_cfg: Optional[dict], norm_cfg: Optional[dict], act_cfg: Optional[dict],
                order: Sequence[str], name: str) -> dict:
    """The ``ConvModule`` layer arguments that a block's convolutions share (``order`` checked)."""
    return dict(
        conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, order=_check_order(order, name))


def biased_conv(in_channels: int, out_channels: int, kernel_size: int, layer_cfgs: dict,
                **kwargs) -> ConvModule:
    """conv (bias on, as DD's released model keeps it in front of BN) + the layers of
    ``layer_cfgs`` (see :func:`_layer_cfgs`); ``kwargs``: padding, dilation."""
    return conv_module(in_channels, out_channels, kernel_size, bias=True, **layer_cfgs, **kwargs)


def _check_pyramid_args(channels: int, kernel_sizes: Sequence[int],
                        dilations: Sequence[int]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f'pyramid channels must be a positive int, got {channels!r}')
    kernel_sizes, dilations = tuple(kernel_sizes), tuple(dilations)
    if len(kernel_sizes) != len(dilations):
        raise ValueError(f'kernel_sizes {kernel_sizes} and dilations {dilations} must have the '
                         'same length (one per branch)')
    for k in kernel_sizes:
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            raise ValueError(f'kernel_sizes must be odd positive ints ("same" padding), got '
                             f'{kernel_sizes}')
    for d in dilations:
        if not isinstance(d, int) or d < 1:
            raise ValueError(f'dilations must be positive ints, got {dilations}')
    return kernel_sizes, dilations


class DilatedPyramid(BaseModule):
    """Feature pyramid of Fig. 4: the input (optional) plus dilated-convolution branches.

    Branch i is a ``k_i x k_i`` convolution with dilation ``d_i``, "same" padding
    ``d_i * (k_i - 1) / 2`` (3, 10, 21 for the defaults), bias on, then BN and ReLU in
    ``branch_order`` (DD's released code: conv -> BN -> ReLU). With ``cascade=True`` (the released
    code) branch i takes branch i-1's output, so the receptive fields grow to 7, 21, 43 px;
    ``cascade=False`` applies every branch to the input (the commented-out older variant).

    Args:
        channels (int): C, input and output width of every branch.
        kernel_sizes (Sequence[int]): odd branch kernels. Defaults to (3, 5, 7).
        dilations (Sequence[int]): branch dilations. Defaults to (3, 5, 7).
        cascade (bool): branch i takes branch i-1's output. Defaults to True.
        with_identity (bool): the input is the first pyramid map. Defaults to True.
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs. Defaults to None, BN and ReLU.
        branch_order (Sequence[str]): ConvModule order of the branches (and of the RFB fuse).
            Defaults to ('conv', 'norm', 'act').
        init_cfg (dict, optional): mmengine init config.

    The subclasses take these arguments as keywords (``**kwargs``) after their own.
    """

    def __init__(self,
                 channels: int,
                 kernel_sizes: Sequence[int] = (3, 5, 7),
                 dilations: Sequence[int] = (3, 5, 7),
                 cascade: bool = True,
                 with_identity: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 branch_order: Sequence[str] = ('conv', 'norm', 'act'),
                 init_cfg=None):
        super().__init__(init_cfg)
        kernel_sizes, dilations = _check_pyramid_args(channels, kernel_sizes, dilations)
        if not with_identity and not kernel_sizes:
            raise ValueError('the pyramid needs at least one branch (with_identity=False and no '
                             'kernel_sizes)')
        self.channels = channels
        self.kernel_sizes = kernel_sizes
        self.dilations = dilations
        self.cascade = bool(cascade)
        self.with_identity = bool(with_identity)
        self._layer_cfgs = _layer_cfgs(conv_cfg, norm_cfg, act_cfg, branch_order, 'branch_order')
        self.branches = nn.ModuleList([
            biased_conv(
                channels, channels, k, self._layer_cfgs, padding=d * (k - 1) // 2, dilation=d)
            for k, d in zip(kernel_sizes, dilations)
        ])

    @property
    def num_branches(self) -> int:
        """Number of pyramid maps (identity included)."""
        return len(self.branches) + int(self.with_identity)

    def branch_maps(self, x: Tensor) -> list:
        """The pyramid maps, each (N, C, H, W): ``[x, b1, b2, ...]`` (x if ``with_identity``)."""
        maps = [x] if self.with_identity else []
        prev = x
        for branch in self.branches:
            out = branch(prev if self.cascade else x)
            maps.append(out)
            prev = out
        return maps


class SelectiveReceptiveFieldPyramid(DilatedPyramid):
    """SKSPP of DD's released code (step 3 of the frame): selective kernel over the pyramid.

    ``U = sum_m B_m``; ``s = mean_{H,W} U`` (N, C); ``z = fc(s)`` (Linear C -> d,
    ``d = max(C // sk_reduction, sk_min_channels)``, no activation unless ``squeeze_act_cfg``);
    per branch ``a_m = fcs[m](z)`` (Linear d -> C); softmax over the M branches per channel;
    output ``sum_m softmax(a)_m * B_m`` (N, C, H, W).

    The paper (Sec. 3.2) follows SK-Net [19], whose squeeze has BN + ReLU; the reference code has
    no nonlinearity on z, which is the default here
    (``squeeze_act_cfg=None``; e.g. ``dict(type='ReLU')`` adds one).

    Args:
        channels (int): C.
        sk_reduction (int), sk_min_channels (int): hidden width d. Defaults to 16 and 32
            (reference).
        squeeze_act_cfg (dict, optional): activation after the squeeze. Defaults to None.
        **kwargs: the pyramid arguments of :class:`DilatedPyramid` (``kernel_sizes``, ``dilations``,
            ``cascade``, ``with_identity``, ``conv_cfg``, ``norm_cfg``, ``act_cfg``,
            ``branch_order``, ``init_cfg``), keyword-only.

    Raises:
        ValueError: a non-positive SK width, fewer than two pyramid maps; as
            :class:`DilatedPyramid`.
    """

    def __init__(self,
                 channels: int,
                 *,
                 sk_reduction: int = 16,
                 sk_min_channels: int = 32,
                 squeeze_act_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(channels, **kwargs)
        if not isinstance(sk_reduction, int) or sk_reduction < 1:
            raise ValueError(f'sk_reduction must be a positive int, got {sk_reduction!r}')
        if not isinstance(sk_min_channels, int) or sk_min_channels < 1:
            raise ValueError(f'sk_min_channels must be a positive int, got {sk_min_channels!r}')
        if self.num_branches < 2:
            raise ValueError('selection needs at least two pyramid maps')
        hidden = max(channels // sk_reduction, sk_min_channels)
        self.hidden_channels = hidden
        self.fc = nn.Linear(channels, hidden)
        self.squeeze_act = (
            build_activation_layer(squeeze_act_cfg)
            if squeeze_act_cfg is not None else nn.Identity())
        self.fcs = nn.ModuleList([nn.Linear(hidden, channels) for _ in range(self.num_branches)])

    def forward(self, x: Tensor, return_attention: bool = False):
        """Select over the pyramid.

        Args:
            x (Tensor): (N, C, H, W).
            return_attention (bool): also return the branch weights.

        Returns:
            Tensor: (N, C, H, W); with ``return_attention`` a tuple ``(out, att)``, ``att`` of
            shape (N, M, C), softmax over M (sums to 1 per channel).
        """
        maps = self.branch_maps(x)
        stacked = torch.stack(maps, dim=1)  # (N, M, C, H, W)
        s = stacked.sum(dim=1).mean(dim=(2, 3))  # (N, C)
        z = self.squeeze_act(self.fc(s))
        logits = torch.stack([fc(z) for fc in self.fcs], dim=1)  # (N, M, C)
        att = logits.softmax(dim=1)
        out = (stacked * att[..., None, None]).sum(dim=1)
        return (out, att) if return_attention else out


class UpsampleReduceExpand(BaseModule):
    """Frame shared by the three DD decoder blocks (steps 1, 2 and 4 of the module docstring).

    Subclasses set :attr:`pyramid_type`, the step-3 context module, built as
    ``pyramid_type(inner_channels, conv_cfg=..., norm_cfg=..., act_cfg=..., **pyramid_kwargs)``
    into ``self.pyramid`` (None: no context module, and ``pyramid_kwargs`` must be empty). The
    arguments after ``align_corners`` are keyword-only. Submodules are registered in the order
    ``reduce``, ``expand``, ``pyramid`` (the state-dict order of the reference converter).
    """

    #: step-3 context module class (``(channels, **kwargs)``), or None for none.
    pyramid_type: Optional[type] = None

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 reduction: int = 4,
                 inner_channels: Optional[int] = None,
                 scale_factor: Union[int, float] = 2,
                 upsample_mode: str = 'nearest',
                 align_corners: Optional[bool] = None,
                 *,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 conv_order: Sequence[str] = ('conv', 'act', 'norm'),
                 init_cfg=None,
                 **pyramid_kwargs):
        super().__init__(init_cfg)
        name = type(self).__name__
        if self.pyramid_type is None and pyramid_kwargs:
            raise TypeError(f'{name}.__init__() got unexpected keyword arguments '
                            f'{sorted(pyramid_kwargs)}')
        for arg, value in (('in_channels', in_channels), ('out_channels', out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}: {arg} must be a positive int, got {value!r}')
        if inner_channels is None:
            if not isinstance(reduction, int) or reduction < 1:
                raise ValueError(f'{name}: reduction must be a positive int, got {reduction!r}')
            inner_channels = in_channels // reduction
            if inner_channels < 1:
                raise ValueError(f'{name}: in_channels {in_channels} // reduction {reduction} = 0 '
                                 'inner channels; lower reduction or set inner_channels')
        elif not isinstance(inner_channels, int) or inner_channels < 1:
            raise ValueError(f'{name}: inner_channels must be a positive int, got '
                             f'{inner_channels!r}')
        if not scale_factor or scale_factor <= 0:
            raise ValueError(f'{name}: scale_factor must be > 0, got {scale_factor!r}')
        if upsample_mode == 'nearest' and align_corners is not None:
            raise ValueError(f"{name}: align_corners must be None with upsample_mode='nearest'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.inner_channels = inner_channels
        self.scale_factor = scale_factor
        self.upsample_mode = upsample_mode
        self.align_corners = align_corners
        layer_cfgs = _layer_cfgs(conv_cfg, norm_cfg, act_cfg, conv_order, 'conv_order')
        self.reduce = biased_conv(in_channels, inner_channels, 3, layer_cfgs, padding=1)
        self.expand = biased_conv(inner_channels, out_channels, 1, layer_cfgs)
        self.pyramid = None if self.pyramid_type is None else self.pyramid_type(
            inner_channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, **pyramid_kwargs)

    def upsample(self, x: Tensor, size: Optional[Sequence[int]] = None) -> Tensor:
        """Resize ``x`` to ``size`` if given, else by ``scale_factor`` (no-op for 1)."""
        if size is not None:
            size = tuple(int(s) for s in size)
            if tuple(x.shape[2:]) == size:
                return x
            return F.interpolate(
                x, size=size, mode=self.upsample_mode, align_corners=self.align_corners)
        if self.scale_factor == 1:
            return x
        return F.interpolate(
            x,
            scale_factor=self.scale_factor,
            mode=self.upsample_mode,
            align_corners=self.align_corners)

    def forward(self, x: Tensor, size: Optional[Sequence[int]] = None) -> Tensor:
        """Upsample, reduce, context, expand.

        Args:
            x (Tensor): (N, in_channels, H, W).
            size (tuple[int, int], optional): output (H', W'). Defaults to None:
                ``(H * scale_factor, W * scale_factor)``. (With nearest upsampling, size
                ``(2H, 2W)`` equals ``scale_factor=2``.)

        Returns:
            Tensor: (N, out_channels, H', W').

        Raises:
            ValueError: ``x`` is not 4-D or has the wrong number of channels.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__}: expected input (N, {self.in_channels}, H, '
                             f'W), got {tuple(x.shape)}')
        x = self.reduce(self.upsample(x, size))
        if self.pyramid is not None:
            x = self.pyramid(x)
        return self.expand(x)


@MODELS.register_module()
class SRFB(UpsampleReduceExpand):
    """Selective Reception Field Block (Cun & Pun 2020, Sec. 3.2, Fig. 3-4).

    ``upsample -> reduce (3x3, C_in -> C_in / reduction, ReLU, BN) -> SKSPP -> expand (1x1 ->
    C_out, ReLU, BN)``, where SKSPP selects (SK-style softmax attention per channel) over the input
    itself plus cascaded dilated convolutions with kernel = dilation = 3, 5, 7 (the paper: "we add
    the original feature into feature pyramid", "a sequence of convolutional layers with the
    growth of dilation and convolutional kernel"; receptive field 43 with four branches).
    See :class:`SelectiveReceptiveFieldPyramid`.

    Widths of DD's released ResNeXt decoder (``reduction=4``, SK hidden 32) and their parameter
    counts, which the released weights have:
    2048 -> 1024 (inner 512): 31,812,640 parameters; 1024 -> 512: 7,976,480; 512 -> 256:
    2,005,792; 256 -> 64: 503,008; 64 -> 32 (inner 16): 33,920.

    Activation before normalisation in ``reduce``/``expand`` (``conv_order``), normalisation before
    activation in the pyramid branches (``branch_order``), as DD's released code.

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out.
        reduction (int): inner width C_in // reduction. Defaults to 4 (reference).
        inner_channels (int, optional): explicit inner width (overrides ``reduction``).
        scale_factor (int | float): upsampling factor when ``forward`` gets no ``size``; 1 = no
            upsampling (as a neck). Defaults to 2 (reference decoder).
        upsample_mode (str): ``F.interpolate`` mode. Defaults to 'nearest' (reference).
        align_corners (bool, optional): for the linear modes only.
        kernel_sizes (Sequence[int]): branch kernels. Defaults to (3, 5, 7).
        dilations (Sequence[int]): branch dilations. Defaults to (3, 5, 7).
        cascade (bool): branch i takes branch i-1's output (reference). Defaults to True.
        with_identity (bool): the input is a pyramid map (paper). Defaults to True.
        sk_reduction (int), sk_min_channels (int): SK hidden width
            ``max(C_inner // sk_reduction, sk_min_channels)``. Defaults to 16 and 32 (reference).
        squeeze_act_cfg (dict, optional): activation after the squeeze Linear. Defaults to None
            (reference).
        conv_cfg, norm_cfg, act_cfg: mmcv layer configs. Defaults to None, BN and ReLU.
        conv_order (Sequence[str]): ConvModule order of reduce/expand. Defaults to
            ('conv', 'act', 'norm').
        branch_order (Sequence[str]): ConvModule order of the branches. Defaults to
            ('conv', 'norm', 'act').
        init_cfg (dict, optional): mmengine init config. Defaults to None (PyTorch / mmcv
            defaults).

    The arguments after ``align_corners`` are keyword-only; ``kernel_sizes``, ``dilations``,
    ``cascade``, ``with_identity``, the SK arguments and ``branch_order`` go to
    :class:`SelectiveReceptiveFieldPyramid` (see :class:`UpsampleReduceExpand`).

    Raises:
        TypeError: an unknown keyword argument.
        ValueError: non-positive widths, ``C_in // reduction == 0``, kernel/dilation lists of
            different lengths or even kernels, a bad order or ``scale_factor``.
    """

    pyramid_type = SelectiveReceptiveFieldPyramid
