"""``UNetFusionHead``: a light U-Net decoder over a feature pyramid, up to full resolution."""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from dbdseg.models.utils.binary_accuracy import BinaryAccuracyMixin
from dbdseg.registry import MODELS

__all__ = ['UNetFusionHead']


@MODELS.register_module()
class UNetFusionHead(BinaryAccuracyMixin, BaseDecodeHead):
    """Top-down U-Net decoder: upsample, concatenate the skip, 3x3 ConvModule(s), repeat.

    Starting from the deepest input, each step upsamples (bilinear) to the next shallower input's
    size, concatenates it and applies ``num_convs`` 3x3 ConvModules to ``decoder_channels[j]``
    channels; the last step's output (``channels`` = ``decoder_channels[-1]``, at the shallowest
    input's resolution) goes to the 1x1 classifier. The U-Net wiring of Ronneberger et al. 2015
    (skip concatenation) with bilinear upsampling instead of transposed convolutions (our choice:
    no checkerboard artefacts, fewer parameters); used by the demo model over
    :class:`~dbdseg.models.backbones.GradientDetailEncoder`. With ``out_channels=1`` it logs the
    binary ``acc_seg`` (:class:`~dbdseg.models.utils.BinaryAccuracyMixin`).

    Args:
        in_channels (Sequence[int]): channels of the selected inputs, shallow (highest resolution)
            to deep.
        decoder_channels (Sequence[int]): output channels of each step, deep to shallow:
            ``len(in_channels) - 1`` entries. ``channels`` must equal the last one.
        num_convs (int): 3x3 ConvModules per step (>= 1). Defaults to 1.
        **kwargs: :class:`mmseg.models.decode_heads.decode_head.BaseDecodeHead` arguments
            (``in_index``, ``channels``, ``out_channels``, ``threshold``, ``loss_decode``, ...);
            ``input_transform`` is fixed to ``'multiple_select'``.

    Shapes: inputs (N, in_channels[i], H_i, W_i) with H_0 >= H_1 >= ...; output logits
    (N, out_channels, H_0, W_0).

    Raises:
        ValueError: ``decoder_channels`` of the wrong length, ``channels`` not its last entry, or
            ``num_convs < 1``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 decoder_channels: Sequence[int],
                 num_convs: int = 1,
                 **kwargs):
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(in_channels=in_channels, **kwargs)
        if len(decoder_channels) != len(in_channels) - 1:
            raise ValueError(f'UNetFusionHead: {len(in_channels)} inputs need '
                             f'{len(in_channels) - 1} decoder_channels, got {decoder_channels}')
        if decoder_channels[-1] != self.channels:
            raise ValueError(f'UNetFusionHead: channels={self.channels} must equal '
                             f'decoder_channels[-1]={decoder_channels[-1]}')
        if num_convs < 1:
            raise ValueError(f'UNetFusionHead: num_convs must be >= 1, got {num_convs}')
        self.steps = torch.nn.ModuleList()
        c = in_channels[-1]
        for skip, out in zip(in_channels[-2::-1], decoder_channels):
            convs = []
            for k in range(num_convs):
                convs.append(
                    ConvModule(
                        c + skip if k == 0 else out,
                        out,
                        3,
                        padding=1,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=self.norm_cfg,
                        act_cfg=self.act_cfg))
            self.steps.append(torch.nn.Sequential(*convs))
            c = out

    def forward(self, inputs):
        """Tuple of backbone features -> (N, out_channels, H_0, W_0) logits."""
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for step, skip in zip(self.steps, feats[-2::-1]):
            x = resize(x, size=skip.shape[2:], mode='bilinear', align_corners=self.align_corners)
            x = step(torch.cat([x, skip], 1))
        return self.cls_seg(x)
