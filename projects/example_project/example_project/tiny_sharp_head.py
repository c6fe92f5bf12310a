"""TinySharpHead: the decode head of the example project (projects/README.md).

Not from a paper: it shows how a project subclasses mmseg's ``BaseDecodeHead`` (which brings the
losses, ``loss_by_feat``, ``predict_by_feat`` and the 1-channel sigmoid handling) and only writes
``forward``.
"""
from typing import Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from dbdseg.registry import MODELS


@MODELS.register_module()
class TinySharpHead(BaseDecodeHead):
    """Fuses two feature maps (e.g. ``TinySharpNet``'s strides 1 and 2) into one logit map.

    ``forward``::

        inputs[in_index[0]] (B, in_channels[0], H, W)    -> 1x1 ConvModule -> (B, channels, H, W)
        inputs[in_index[1]] (B, in_channels[1], h, w)    -> 1x1 ConvModule -> bilinear to (H, W)
        sum -> 3x3 ConvModule -> dropout -> conv_seg     -> (B, out_channels, H, W) logits

    With ``out_channels=1`` (and ``num_classes=2``, ``threshold=0.5``) the logits are of the
    positive class (label 1 = in-focus / salient): use a sigmoid loss (mmseg's
    ``CrossEntropyLoss(use_sigmoid=True)``, ``SoftIoULoss``); mmseg's ``EncoderDecoder`` then
    returns ``sigmoid(logits)`` as ``seg_logits`` and ``> threshold`` as ``pred_sem_seg``.

    Args:
        in_channels (Sequence[int]): Channels of the two inputs. Defaults to (8, 16).
        channels (int): Channels of the fused feature. Defaults to 16.
        in_index (Sequence[int]): Indices of the two inputs in the backbone/neck tuple.
            Defaults to (0, 1).
        **kwargs: :class:`mmseg.models.decode_heads.decode_head.BaseDecodeHead` arguments;
            ``num_classes`` is required (keyword only), e.g. ``num_classes=2, out_channels=1,
            threshold=0.5, loss_decode=[...]``. ``input_transform`` is always
            ``'multiple_select'``.

    Raises:
        ValueError: ``in_channels`` or ``in_index`` does not hold exactly two entries, or
            ``input_transform`` is given as something other than ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (8, 16),
                 channels: int = 16,
                 in_index: Sequence[int] = (0, 1),
                 **kwargs) -> None:
        if len(in_channels) != 2 or len(in_index) != 2:
            raise ValueError('TinySharpHead fuses exactly two feature maps: in_channels and '
                             f'in_index need two entries, got {in_channels} and {in_index}')
        transform = kwargs.pop('input_transform', 'multiple_select')
        if transform != 'multiple_select':
            raise ValueError("TinySharpHead: input_transform must be 'multiple_select', got "
                             f'{transform!r}')
        super().__init__(
            list(in_channels),
            channels,
            in_index=list(in_index),
            input_transform='multiple_select',
            **kwargs)
        self.lateral_fine = ConvModule(
            self.in_channels[0], channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.lateral_coarse = ConvModule(
            self.in_channels[1], channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.fuse = ConvModule(
            channels, channels, 3, padding=1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    def forward(self, inputs: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Tuple of feature maps -> (B, out_channels, H, W) logits at the finer map's size."""
        fine, coarse = self._transform_inputs(inputs)
        fine = self.lateral_fine(fine)
        coarse = resize(
            self.lateral_coarse(coarse),
            size=fine.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        return self.cls_seg(self.fuse(fine + coarse))
