"""RSUStackHead: AFIU's decoder, a top-down stack of U²-Net residual U-blocks.

Source: M. Qian et al., "Defocus Blur Detection via Salient Region Detection Prior" (arXiv
2011.09677), Sec. 3.2 / Fig. 4: "The decoder is formed by a stacked U-net with residual
connections"; deepest level ``EC5 -> RSU -> D5``; intermediate levels
``concat(EC_x, D_(x+1)) -> RSU -> D_x``; shallowest: the decoded feature -> 1x1 convolution ->
output.
The RSU blocks are U²-Net's (Qin et al., Pattern Recognition 2020, Sec. 3.1;
:class:`~dbdseg.models.utils.RSU`). Heights and widths per level are not given in the paper: dbdseg
chooses them by resolution as U²-Net does; every one is a config field here.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from dbdseg.models.utils.binary_accuracy import BinaryAccuracyMixin
from dbdseg.models.utils.per_level import per_level
from dbdseg.models.utils.rsu import RSU
from dbdseg.models.utils.side_output_losses import side_output_losses
from dbdseg.registry import MODELS

__all__ = ['RSUStackHead']


@MODELS.register_module()
class RSUStackHead(BinaryAccuracyMixin, BaseDecodeHead):
    """AFIU decoder: one RSU block per level, top-down, then a 1x1 classifier on D1.

    Source: Qian et al. (AFIU), Sec. 3.2, Fig. 4; blocks: U²-Net's RSU (Qin et al. 2020,
    Sec. 3.1); defaults: dbdseg's choice (the paper gives neither heights nor widths). With inputs
    EC_1..EC_L (L = ``len(in_channels)``, level 1 the finest):

    * ``D_L = RSU_L(EC_L)``;
    * ``D_x = RSU_x(cat[EC_x, up(D_(x+1))])`` for x = L-1..1, ``up`` = bilinear resizing to EC_x's
      size (``align_corners``);
    * output = ``conv_seg`` (1x1, ``channels`` -> ``out_channels``) on D_1, at D_1's resolution
      (stride 2 with :class:`~dbdseg.models.necks.AIMSIMNeck` on a ResNet); mmseg resizes it
      bilinearly to the label size (loss) and to the input size (prediction). Binary convention:
      ``out_channels=1``, ``num_classes=2``, BCE = ``CrossEntropyLoss(use_sigmoid=True)`` (the
      paper's Eq. 2), ``threshold=0.5``.

    Default blocks (heights by resolution as in U²-Net; 320x320 input -> innermost RSU map 5x5 at
    levels 1-4):

    ===== ======== ================ =================
    level stride   block            (in, mid, out)
    ===== ======== ================ =================
    5     /32      RSU-4F           (64, 32, 64)
    4     /16      RSU-4            (128, 64, 64)
    3     /8       RSU-5            (128, 64, 64)
    2     /4       RSU-6            (128, 32, 64)
    1     /2       RSU-7            (128, 32, 64)
    ===== ======== ================ =================

    Deep supervision (``side_outputs=True``; off by default, the paper trains one BCE): as U²-Net
    (Qin et al. 2020, Sec. 3.2-3.3), a 3x3 conv (``side_convs.i``: block_channels[i] ->
    out_channels) on every D_i, each resized to D_1's size; ``conv_seg`` then becomes the 1x1
    fusion over their concatenation (L x out_channels -> out_channels) and gives the main output.
    In training ``forward`` returns ``(fused, side_1, ..., side_L)``; the losses are
    ``loss_decode`` on the fused map (its own name, e.g. ``loss_ce``) plus, per loss of
    ``loss_decode``, ``<loss_name>_side{i}`` = ``side_loss_weights[i-1]`` x the loss on side i
    (e.g. ``loss_ce_side1``; the key scheme of :mod:`dbdseg.models.utils.side_output_losses`;
    weight-0 sides are left out). In eval mode ``forward`` returns the fused map only.

    ``acc_seg`` (1-channel head) is the pixel accuracy of ``sigmoid(fused) > threshold``, in
    percent (:class:`~dbdseg.models.utils.binary_accuracy.BinaryAccuracyMixin`).

    Args:
        in_channels (Sequence[int]): channels of EC_1..EC_L. Defaults to (64,) * 5.
        in_index (Sequence[int], optional): which neck outputs are EC_1..EC_L. Defaults to None =
            (0, 1, ..., L-1).
        heights (int | Sequence[int]): RSU height per level (finest first).
            Defaults to (7, 6, 5, 4, 4).
        dilated (bool | Sequence[bool]): RSU-LF (dilated, no pooling) instead of RSU-L, per level.
            Defaults to (False, False, False, False, True).
        mid_channels (int | Sequence[int]): RSU mid width per level.
            Defaults to (32, 32, 64, 64, 32).
        block_channels (int | Sequence[int]): RSU output width per level (D_x channels).
            Defaults to 64.
        channels (int, optional): width fed to ``conv_seg``; must equal ``block_channels[0]``
            (derived from it when omitted).
        side_outputs (bool): U²-Net-style deep supervision (see above). Defaults to False.
        side_loss_weights (float | Sequence[float]): weight of each side loss. Defaults to 1.0
            (U²-Net's equal weights).
        dropout_ratio (float): dropout before ``conv_seg`` (default mode only). Defaults to 0.0
            (the paper mentions none; mmseg's default would be 0.1).
        **kwargs: the rest of mmseg's ``BaseDecodeHead`` (``num_classes``, ``out_channels``,
            ``threshold``, ``norm_cfg``, ``act_cfg``, ``loss_decode``, ``align_corners``, ...).
            ``norm_cfg`` and ``act_cfg`` apply to every RSU conv (``norm_cfg=None`` means BN).
            ``input_transform`` is always ``'multiple_select'``.

    Raises:
        ValueError: per-level fields (``in_index``, ``heights``, ...) of the wrong length or type;
            ``channels`` differing from ``block_channels[0]``; an ``input_transform`` other than
            ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 64, 64, 64, 64),
                 in_index: Optional[Sequence[int]] = None,
                 heights: Union[int, Sequence[int]] = (7, 6, 5, 4, 4),
                 dilated: Union[bool, Sequence[bool]] = (False, False, False, False, True),
                 mid_channels: Union[int, Sequence[int]] = (32, 32, 64, 64, 32),
                 block_channels: Union[int, Sequence[int]] = 64,
                 channels: int = None,
                 side_outputs: bool = False,
                 side_loss_weights: Union[float, Sequence[float]] = 1.0,
                 dropout_ratio: float = 0.0,
                 **kwargs):
        if not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise ValueError(f'RSUStackHead: in_channels must list the channels of EC_1..EC_L, '
                             f'got {in_channels!r}')
        n = len(in_channels)
        in_index = tuple(range(n)) if in_index is None else in_index
        if not isinstance(in_index, (list, tuple)) or len(in_index) != n:
            raise ValueError(f'RSUStackHead: in_index must pick one neck output per level ({n}), '
                             f'got {in_index!r}')
        levels = dict(num_levels=n, owner='RSUStackHead')
        heights = per_level(heights, name='heights', **levels)
        dilated = per_level(dilated, name='dilated', kind=bool, **levels)
        mid_channels = per_level(mid_channels, name='mid_channels', **levels)
        block_channels = per_level(block_channels, name='block_channels', **levels)
        side_loss_weights = per_level(
            side_loss_weights, name='side_loss_weights', kind=float, **levels)
        if channels is None:
            channels = block_channels[0]
        if channels != block_channels[0]:
            raise ValueError(f'RSUStackHead: channels ({channels}) is the width of D_1 fed to '
                             f'conv_seg and must equal block_channels[0] ({block_channels[0]})')
        transform = kwargs.pop('input_transform', 'multiple_select')
        if transform != 'multiple_select':
            raise ValueError(f"RSUStackHead: input_transform must be 'multiple_select' (it "
                             f'decodes every level itself), got {transform!r}')
        super().__init__(
            in_channels,
            channels,
            in_index=in_index,
            input_transform='multiple_select',
            dropout_ratio=dropout_ratio,
            **kwargs)
        self.num_levels = n
        self.heights = heights
        self.dilated = dilated
        self.mid_channels = mid_channels
        self.block_channels = block_channels
        self.side_outputs = bool(side_outputs)
        self.side_loss_weights = side_loss_weights
        norm_cfg = self.norm_cfg if self.norm_cfg is not None else dict(type='BN')
        act_cfg = self.act_cfg if self.act_cfg is not None else dict(type='ReLU')
        self.blocks = nn.ModuleList()
        for i in range(n):
            cin = in_channels[i] + (block_channels[i + 1] if i < n - 1 else 0)
            self.blocks.append(
                RSU(heights[i],
                    cin,
                    mid_channels[i],
                    block_channels[i],
                    dilated=dilated[i],
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    align_corners=self.align_corners))
        if self.side_outputs:
            self.side_convs = nn.ModuleList(
                [nn.Conv2d(block_channels[i], self.out_channels, 3, padding=1) for i in range(n)])
            # conv_seg becomes the fusion of the L side logits (U²-Net's fusion, Sec. 3.2).
            self.conv_seg = nn.Conv2d(n * self.out_channels, self.out_channels, kernel_size=1)

    def decode(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        """Run the RSU stack. Returns [D_1, ..., D_L], D_x (N, block_channels[x-1], H_x, W_x)."""
        feats = self._transform_inputs(inputs)
        for i, (x, c) in enumerate(zip(feats, self.in_channels)):
            if x.dim() != 4 or x.shape[1] != c:
                raise ValueError(f'RSUStackHead: EC_{i + 1} must be (N, {c}, H, W), got '
                                 f'{tuple(x.shape)}')
        decoded: List[Tensor] = [None] * self.num_levels
        d = None
        for i in range(self.num_levels - 1, -1, -1):
            x = feats[i]
            if d is not None:
                d = resize(d, size=x.shape[2:], mode='bilinear', align_corners=self.align_corners)
                x = torch.cat([x, d], dim=1)
            d = self.blocks[i](x)
            decoded[i] = d
        return decoded

    def forward(self, inputs: Sequence[Tensor]) -> Union[Tensor, Tuple[Tensor, ...]]:
        """EC_1..EC_L -> logits (N, out_channels, H_1, W_1) at D_1's resolution (training with
        ``side_outputs``: the tuple ``(fused, side_1, ..., side_L)``, all at D_1's resolution)."""
        decoded = self.decode(inputs)
        if not self.side_outputs:
            return self.cls_seg(decoded[0])
        size = decoded[0].shape[2:]
        sides = [
            resize(conv(d), size=size, mode='bilinear', align_corners=self.align_corners)
            for conv, d in zip(self.side_convs, decoded)
        ]
        fused = self.conv_seg(torch.cat(sides, dim=1))
        if self.training:
            return (fused, *sides)
        return fused

    def predict(self, inputs, batch_img_metas, test_cfg) -> Tensor:
        """mmseg's ``predict`` on the main (fused) output only."""
        seg_logits = self.forward(inputs)
        if isinstance(seg_logits, (tuple, list)):
            seg_logits = seg_logits[0]
        return self.predict_by_feat(seg_logits, batch_img_metas)

    def loss_by_feat(self, seg_logits: Union[Tensor, Sequence[Tensor]],
                     batch_data_samples: SampleList) -> dict:
        """mmseg's loss on the main output (``<loss_name>``, ``acc_seg``); with side outputs also
        ``<loss_name>_side{i}`` = weight_i x the loss on side i, resized to the label.

        Args:
            seg_logits (Tensor | Sequence[Tensor]): the logits (N, out_channels, h, w), or in
                training with side outputs the tuple ``(fused, side_1, ..., side_L)``.
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict[str, Tensor]: the loss terms and ``acc_seg`` (of the main output).
        """
        if not isinstance(seg_logits, (tuple, list)):
            return super().loss_by_feat(seg_logits, batch_data_samples)
        losses = super().loss_by_feat(seg_logits[0], batch_data_samples)
        seg_label = self._stack_batch_gt(batch_data_samples)
        label = seg_label.squeeze(1)

        def side_loss(fn: nn.Module, side: Tensor) -> Tensor:
            side = resize(
                side, size=seg_label.shape[2:], mode='bilinear', align_corners=self.align_corners)
            return fn(side, label, weight=None, ignore_index=self.ignore_index)

        losses.update(
            side_output_losses(
                seg_logits[1:], self.side_loss_weights, self.loss_decode, side_loss, first_index=1))
        return losses
