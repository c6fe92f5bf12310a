"""SABHead: the decoder of depth distillation (DD) with defocus and depth side outputs.

Source: X. Cun, C.-M. Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2
(decoder, SAB, PredictionFusion; Fig. 2b-3), Sec. 3.3 (losses, Eq. 2-3) and Table 2 (ablations).
Where the paper is silent (widths, layer order) the layers follow the authors' released model
code (github.com/vinthony/depth-distillation, ``models/blocks.py`` and ``models/fcn.py``).

Decoder, deepest level first (ResNeXt-101 at 320 x 320, the released decoder)::

    level  block (SRFB)            out  size  side outputs       then
    1      x5 (2048) -> 1024       20   side1, d1   x SAB1(side1, d1)  + x4
    2      1024 -> 512             40   side2, d2   x SAB2             + x3
    3      512 -> 256              80   side3, d3   x SAB3             + x2
    4      256 -> 64               160  side4, d4   x SAB4             + x1
    5      64 -> 32                320  side5, d5   (no SAB, no skip)
    fused  = conv_seg(cat(resize(side1..side5)))      1x1 conv 5 -> 1 (PredictionFusion)
    fused depth = depth_fusion(cat(resize(d1..d5)))   1x1 conv 5 -> 1
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from dbdseg.models.losses.accuracy import binary_accuracy
from dbdseg.models.utils.per_level import per_level
from dbdseg.models.utils.side_output_losses import side_output_losses
from dbdseg.models.utils.srfb import conv_module
from dbdseg.registry import MODELS

__all__ = ['SABHead', 'SupervisionAttention']


class SupervisionAttention(nn.Module):
    """Supervision-guided Attention Block (Cun & Pun 2020, Sec. 3.2).

    ``a = sigmoid(conv2(BN(ReLU(conv1(cat[side, depth])))))``: conv1 3x3 ``in_channels -> channels``
    (bias), ReLU, BN (activation before norm, as the reference), conv2 3x3 ``channels -> 1`` (bias),
    sigmoid. The raw side outputs (logit and linear depth, no sigmoid) are the input.

    Args:
        in_channels (int): number of side maps (2 = defocus + depth; 1 without the depth branch).
        channels (int): hidden width. Defaults to 32 (reference).
        norm_cfg, act_cfg (dict): mmcv configs. Defaults to BN and ReLU.
        order (Sequence[str]): ConvModule order of conv1. Defaults to ('conv', 'act', 'norm').

    Shapes: (N, in_channels, H, W) -> attention (N, 1, H, W) in (0, 1).
    """

    def __init__(self,
                 in_channels: int = 2,
                 channels: int = 32,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 order: Sequence[str] = ('conv', 'act', 'norm')):
        super().__init__()
        self.conv1 = conv_module(
            in_channels,
            channels,
            3,
            padding=1,
            bias=True,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            order=tuple(order))
        self.conv2 = nn.Conv2d(channels, 1, 3, padding=1, bias=True)

    def forward(self, side_maps: Tensor) -> Tensor:
        """(N, C, H, W) side maps -> (N, 1, H, W) attention in (0, 1)."""
        return self.conv2(self.conv1(side_maps)).sigmoid()


@MODELS.register_module()
class SABHead(BaseDecodeHead):
    """DD decoder: per level upsample + block (SRFB), defocus and depth side outputs, SAB, skip
    addition, and PredictionFusion (Cun & Pun 2020, Sec. 3.2-3.3).

    Inputs: the L levels selected by ``in_index`` (``input_transform='multiple_select'``), in
    increasing stride order (ResNeXt/ResNetWithStem: strides 2, 4, 8, 16, 32). Level k = 1..L
    (deepest first) runs ``blocks[k-1]`` (built from ``block_cfg``) on the previous output,
    upsampled to the size of the next-shallower input (nearest; the last level x
    ``last_scale_factor``), then two 1x1 side classifiers (bias): ``side_k`` (defocus logit) and
    ``d_k`` (depth, linear). For k < L: ``f = f * SAB_k(cat[side_k, d_k]) + skip_k``
    (multiplication, then addition, as the released code). Fusion: every side resized (bilinear,
    ``align_corners``) to side_L's size (the input size for 5 levels with a stride-2 first level),
    concatenated, 1x1 conv L -> 1 (``conv_seg`` for defocus, ``depth_fusion`` for depth).

    Outputs: at inference (``forward`` in eval mode, ``predict``) the fused defocus logit
    (N, 1, H, W) -- mmseg's segmentor turns it into ``sigmoid`` probabilities. In training,
    ``forward`` returns ``dict(fused, sides, fused_depth, depth_sides)`` (sides deepest first, each
    at its own resolution: strides 16, 8, 4, 2, 1 for the reference layout; the depth entries are
    None / [] without the depth branch).

    Losses (:meth:`loss_by_feat`), every output resized (bilinear) to the label size, keyed as
    :mod:`dbdseg.models.utils.side_output_losses` does: ``{loss_decode.loss_name}`` =
    ``fused_loss_weight`` x loss(fused) and ``{loss_decode.loss_name}_side{k}`` =
    ``side_loss_weights[k-1]`` x loss(side_k) (alpha_k = 1, Eq. 2), likewise
    ``{loss_depth.loss_name}`` / ``{loss_depth.loss_name}_side{k}`` with
    ``depth_fused_loss_weight`` / ``depth_side_loss_weights`` (beta_k = 1, Eq. 3) times
    ``loss_depth.loss_weight`` (gamma = 0.1) against ``data_sample.gt_depth_map``; plus
    ``acc_seg`` (pixel accuracy of ``sigmoid(fused) > threshold``, in percent,
    :func:`~dbdseg.models.losses.accuracy.binary_accuracy`). Pixels labelled ``ignore_index`` are
    excluded from every term; depth pixels outside [0, 1] (padding) too. Terms with weight 0 are
    left out; with ``loss_depth.loss_weight == 0`` no depth map is read and one zero term
    (``{loss_depth.loss_name}``, attached to the graph so that distributed training sees every
    parameter used) is logged.

    Table 2 ablations (config fields): ``use_depth=False`` (no depth branch: no depth classifiers,
    fusion or loss; SAB takes the defocus side only), ``block_cfg=dict(type='UpsampleConvBlock')``
    (plain conv block), ``block_cfg=dict(type='RFB')`` (RFB without selection), ``use_sab=False``.

    Args:
        in_channels (Sequence[int]): channels of the selected inputs, shallowest first.
            Defaults to (64, 256, 512, 1024, 2048) (ResNeXt-101).
        channels (int): output width of the last (shallowest) level. Defaults to 32 (reference).
        in_index (Sequence[int]): which backbone outputs. Defaults to (0, 1, 2, 3, 4).
        decoder_channels (Sequence[int], optional): output width of each level, deepest first.
            Defaults to None: the width of the input each level is added to, then ``channels``
            (ResNeXt: (1024, 512, 256, 64, 32); ResNet-18/34: (256, 128, 64, 64, 32)). A width
            that differs from its skip input adds a 1x1 conv (bias) on that skip (not in the
            reference; lets a narrow decoder sit on a wide backbone).
        block_cfg (dict): per-level block, built with ``in_channels``, ``out_channels`` and (last
            level) ``scale_factor=last_scale_factor`` added; ``norm_cfg`` / ``act_cfg`` default to
            the head's. Defaults to ``dict(type='SRFB')`` (reduction 4, branches 3/5/7).
        use_depth (bool): depth side outputs, depth fusion and depth loss. Defaults to True.
        use_sab (bool): SAB attention on levels 1..L-1. Defaults to True.
        sab_channels (int): SAB hidden width. Defaults to 32 (reference).
        last_scale_factor (int | float): upsampling of the last level. Defaults to 2 (reference:
            the stride-2 level goes to full resolution).
        fused_loss_weight (float), side_loss_weights (float | Sequence[float]): defocus weights of
            the fused output and of side1..sideL (alpha_k). Defaults to 1 and 1.
        depth_fused_loss_weight (float), depth_side_loss_weights (float | Sequence[float]): depth
            weights (beta_k), multiplied by ``loss_depth.loss_weight``. Defaults to 1 and 1.
        loss_decode (dict | list[dict]): defocus loss(es) on 1-channel logits.
            Defaults to ``BalancedBCELoss(loss_name='loss_defocus')``.
        loss_depth (dict, optional): depth loss, called as ``loss(pred, target, valid_mask)``.
            Defaults to ``DepthDistillationLoss(mode='mse', loss_weight=0.1,
            loss_name='loss_depth')``. None = no depth loss (the depth branch is then trained
            through SAB only).
        num_classes (int): must be 2. out_channels (int): must be 1.
        threshold (float): probability threshold of the prediction (and of ``acc_seg``).
            Defaults to 0.5.
        input_transform (str): must be 'multiple_select'.
        dropout_ratio (float): must be 0 (the reference decoder has no dropout).
        norm_cfg (dict): Defaults to ``dict(type='BN', requires_grad=True)``.
        act_cfg (dict): Defaults to ``dict(type='ReLU')``.
        align_corners (bool): for the bilinear resizes. Defaults to False.
        init_cfg (dict, optional): Defaults to None (PyTorch / mmcv default initialisation, as
            the reference).
        **kwargs: other ``BaseDecodeHead`` arguments (``ignore_index``, ...).

    Raises:
        ValueError: fewer than 2 levels; lengths of ``in_channels`` / ``in_index`` /
            ``decoder_channels`` / per-level weights that disagree; ``out_channels != 1``,
            ``num_classes != 2``, ``dropout_ratio > 0``, a ``sampler``, another
            ``input_transform``. In :meth:`loss_by_feat`: a training sample without
            ``gt_depth_map`` while the depth loss is on (names the image and the config field),
            or a depth map of another size than the label.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 channels: int = 32,
                 in_index: Sequence[int] = (0, 1, 2, 3, 4),
                 decoder_channels: Optional[Sequence[int]] = None,
                 block_cfg: dict = dict(type='SRFB'),
                 use_depth: bool = True,
                 use_sab: bool = True,
                 sab_channels: int = 32,
                 last_scale_factor: Union[int, float] = 2,
                 fused_loss_weight: float = 1.0,
                 side_loss_weights: Union[float, Sequence[float]] = 1.0,
                 depth_fused_loss_weight: float = 1.0,
                 depth_side_loss_weights: Union[float, Sequence[float]] = 1.0,
                 loss_decode=dict(
                     type='BalancedBCELoss', loss_weight=1.0, loss_name='loss_defocus'),
                 loss_depth: Optional[dict] = dict(
                     type='DepthDistillationLoss',
                     mode='mse',
                     loss_weight=0.1,
                     loss_name='loss_depth'),
                 num_classes: int = 2,
                 out_channels: int = 1,
                 threshold: float = 0.5,
                 input_transform: str = 'multiple_select',
                 dropout_ratio: float = 0.0,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 init_cfg=None,
                 **kwargs):
        if input_transform != 'multiple_select':
            raise ValueError(f"SABHead: input_transform must be 'multiple_select' (the head "
                             f'reads every level), got {input_transform!r}')
        if out_channels != 1 or num_classes != 2:
            raise ValueError(f'SABHead is a binary 1-channel (sigmoid) head: needs out_channels=1, '
                             f'num_classes=2, got {out_channels}, {num_classes}')
        if dropout_ratio:
            raise ValueError(f'SABHead has no dropout (the reference decoder has none); got '
                             f'dropout_ratio={dropout_ratio}')
        if kwargs.get('sampler') is not None:
            raise ValueError('SABHead does not support a pixel sampler')
        in_channels, in_index = tuple(in_channels), tuple(in_index)
        if len(in_channels) != len(in_index):
            raise ValueError(f'SABHead: in_channels {in_channels} and in_index {in_index} must '
                             'have the same length')
        if len(in_channels) < 2:
            raise ValueError(f'SABHead needs at least 2 levels, got in_channels={in_channels}')
        super().__init__(
            list(in_channels),
            channels,
            num_classes=num_classes,
            out_channels=out_channels,
            threshold=threshold,
            dropout_ratio=0.0,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            in_index=list(in_index),
            input_transform=input_transform,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            **kwargs)
        n = len(in_channels)
        self.num_levels = n
        skip_channels = [in_channels[n - 2 - k] for k in range(n - 1)]
        if decoder_channels is None:
            decoder_channels = skip_channels + [channels]
        decoder_channels = tuple(int(c) for c in decoder_channels)
        if len(decoder_channels) != n or any(c < 1 for c in decoder_channels):
            raise ValueError(f'SABHead: decoder_channels {decoder_channels} needs {n} positive '
                             'widths (one per level, deepest first)')
        self.decoder_channels = decoder_channels
        self.use_depth = bool(use_depth)
        self.use_sab = bool(use_sab)
        self.fused_loss_weight = float(fused_loss_weight)
        weights = dict(num_levels=n, owner='SABHead', kind=float, minimum=0)
        self.side_loss_weights = per_level(side_loss_weights, name='side_loss_weights', **weights)
        self.depth_fused_loss_weight = float(depth_fused_loss_weight)
        self.depth_side_loss_weights = per_level(
            depth_side_loss_weights, name='depth_side_loss_weights', **weights)
        if not isinstance(block_cfg, dict) or 'type' not in block_cfg:
            raise ValueError(f'SABHead: block_cfg must be a dict with a type, got {block_cfg!r}')

        self.blocks = nn.ModuleList()
        self.side_convs = nn.ModuleList()
        self.depth_convs = nn.ModuleList()
        self.sabs = nn.ModuleList()
        self.skip_convs = nn.ModuleList()
        prev = in_channels[-1]
        for k in range(n):
            cfg = dict(block_cfg)
            cfg.setdefault('norm_cfg', norm_cfg)
            cfg.setdefault('act_cfg', act_cfg)
            cfg.update(in_channels=prev, out_channels=decoder_channels[k])
            if k == n - 1:
                cfg['scale_factor'] = last_scale_factor
            self.blocks.append(MODELS.build(cfg))
            self.side_convs.append(nn.Conv2d(decoder_channels[k], 1, 1))
            if self.use_depth:
                self.depth_convs.append(nn.Conv2d(decoder_channels[k], 1, 1))
            if k < n - 1:
                if self.use_sab:
                    self.sabs.append(
                        SupervisionAttention(
                            2 if self.use_depth else 1,
                            sab_channels,
                            norm_cfg=norm_cfg,
                            act_cfg=act_cfg))
                if skip_channels[k] != decoder_channels[k]:
                    self.skip_convs.append(nn.Conv2d(skip_channels[k], decoder_channels[k], 1))
                else:
                    self.skip_convs.append(nn.Identity())
            prev = decoder_channels[k]
        # PredictionFusion (Fig. 2b): conv_seg (mmseg's classifier slot) is the defocus fusion.
        self.conv_seg = nn.Conv2d(n, 1, 1)
        self.depth_fusion = nn.Conv2d(n, 1, 1) if self.use_depth else None
        self.loss_depth = MODELS.build(loss_depth) if (self.use_depth and loss_depth) else None

    # ------------------------------------------------------------------ forward
    def _forward_all(self, inputs: Sequence[Tensor]) -> Dict[str, object]:
        """Every output of the decoder; see the class docstring (training ``forward``)."""
        xs = self._transform_inputs(inputs)
        n = self.num_levels
        x = xs[-1]
        sides: List[Tensor] = []
        depths: List[Tensor] = []
        for k in range(n):
            skip = xs[n - 2 - k] if k < n - 1 else None
            x = self.blocks[k](x, size=skip.shape[2:] if skip is not None else None)
            side = self.side_convs[k](x)
            sides.append(side)
            depth = self.depth_convs[k](x) if self.use_depth else None
            if depth is not None:
                depths.append(depth)
            if skip is not None:
                if self.use_sab:
                    att_in = torch.cat([side, depth], dim=1) if depth is not None else side
                    x = x * self.sabs[k](att_in)
                x = x + self.skip_convs[k](skip)
        size = sides[-1].shape[2:]
        fused = self.conv_seg(torch.cat([self._resize(s, size) for s in sides], dim=1))
        fused_depth = None
        if self.use_depth:
            fused_depth = self.depth_fusion(
                torch.cat([self._resize(d, size) for d in depths], dim=1))
        return dict(fused=fused, sides=sides, fused_depth=fused_depth, depth_sides=depths)

    def _resize(self, x: Tensor, size) -> Tensor:
        if tuple(x.shape[2:]) == tuple(size):
            return x
        return resize(x, size=tuple(size), mode='bilinear', align_corners=self.align_corners)

    def forward(self, inputs: Sequence[Tensor]):
        """Training: the dict of :meth:`_forward_all`; eval: the fused defocus logit (N, 1, H,
        W)."""
        outs = self._forward_all(inputs)
        return outs if self.training else outs['fused']

    def predict(self, inputs: Tuple[Tensor], batch_img_metas: List[dict], test_cfg) -> Tensor:
        """Fused defocus logits resized to the input (pad) shape, in train or eval mode."""
        return self.predict_by_feat(self._forward_all(inputs)['fused'], batch_img_metas)

    def loss(self, inputs: Tuple[Tensor], batch_data_samples: SampleList, train_cfg) -> dict:
        """Forward (all outputs) and :meth:`loss_by_feat`."""
        return self.loss_by_feat(self._forward_all(inputs), batch_data_samples)

    # ------------------------------------------------------------------ losses
    def _stack_depth_gt(self, batch_data_samples: SampleList, size) -> Tensor:
        maps = []
        for sample in batch_data_samples:
            depth = sample.get('gt_depth_map', None)
            if depth is None:
                img_path = sample.metainfo.get('img_path', '<unknown>')
                raise ValueError(
                    f'SABHead: training sample {img_path!r} has no gt_depth_map, but the depth '
                    'loss is on. Give the training dataset a depth folder (data_prefix=dict(..., '
                    "depth_map_path='<folder of <stem>.png>'); teacher maps: "
                    'tools/dataset_converters/generate_depth_targets.py), or switch depth '
                    'supervision off with model.decode_head.loss_depth.loss_weight=0 (or '
                    'loss_depth=None, or use_depth=False).')
            data = depth.data
            data = data[None] if data.dim() == 2 else data
            if tuple(data.shape[-2:]) != tuple(size):
                raise ValueError(
                    f'SABHead: gt_depth_map of {sample.metainfo.get("img_path", "<unknown>")!r} '
                    f'has size {tuple(data.shape[-2:])}, the label {tuple(size)}')
            maps.append(data.float())
        return torch.stack(maps, dim=0)

    def loss_by_feat(self, seg_logits: Dict[str, object], batch_data_samples: SampleList) -> dict:
        """Every loss term of Eq. 2-3; see the class docstring.

        Args:
            seg_logits (dict): the training outputs of :meth:`_forward_all`.
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W) in {0, 1, 255}
                and, while the depth loss is on, ``gt_depth_map`` (1, H, W) float in [0, 1].

        Returns:
            dict[str, Tensor]: the terms (scalars) and ``acc_seg``.
        """
        outs = seg_logits
        seg_label = self._stack_batch_gt(batch_data_samples)  # (N, 1, H, W)
        size = seg_label.shape[2:]
        label = seg_label.squeeze(1)

        def defocus_loss(fn: nn.Module, logit: Tensor) -> Tensor:
            return fn(self._resize(logit, size), label, ignore_index=self.ignore_index)

        outputs = [outs['fused'], *outs['sides']]
        weights = [self.fused_loss_weight, *self.side_loss_weights]
        losses = side_output_losses(outputs, weights, self.loss_decode, defocus_loss)

        if self.loss_depth is not None:
            if self.loss_depth.loss_weight == 0:
                losses[self.loss_depth.loss_name] = outs['fused_depth'].sum() * 0.0
            else:
                target = self._stack_depth_gt(batch_data_samples, size)
                valid = seg_label != self.ignore_index

                def depth_loss(fn: nn.Module, pred: Tensor) -> Tensor:
                    return fn(self._resize(pred, size), target, valid_mask=valid)

                outputs = [outs['fused_depth'], *outs['depth_sides']]
                weights = [self.depth_fused_loss_weight, *self.depth_side_loss_weights]
                losses.update(side_output_losses(outputs, weights, self.loss_depth, depth_loss))

        losses['acc_seg'] = binary_accuracy(
            self._resize(outs['fused'], size), label, self.threshold, self.ignore_index)
        return losses
