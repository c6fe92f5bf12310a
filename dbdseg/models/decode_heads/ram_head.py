"""RAMHead: the A2S stage-2 saliency detector's decoder (two Residual Attention Modules).

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 7-11 and Fig. 6; Table VII for the model size;
the layer structure follows the authors' code (github.com/moothes/A2S-USOD,
``methods/cornet/model.py``), which the paper's parameter count confirms (see the class
docstring).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from dbdseg.models.losses.accuracy import binary_accuracy
from dbdseg.models.utils.side_output_losses import side_output_losses
from dbdseg.registry import MODELS

__all__ = ['RAMHead', 'ResidualAttentionModule']


class ResidualAttentionModule(BaseModule):
    """Residual Attention Module, RAM (A2S Eq. 9-10, Fig. 6).

    For a pair of lower-level features (a, b) and a global feature g, all ``channels`` wide::

        g' = up_a(CGR(g))                       CGR = 3x3 conv + norm + act (``global_conv``)
        b' = up_a(b)
        a'' = a  * sigmoid(conv_1(a  - g'))     Eq. 9 (``attn_conv1``)
        b'' = b' * sigmoid(conv_2(b' - g'))     Eq. 9 (``attn_conv2``)
        R  = conv_fuse(cat[a'', b'', g'])       Eq. 10 (``fuse``, 3*channels -> channels)

    ``up_a`` is bilinear resizing to a's size (the largest input, "all features are upsampled to
    the same size as the largest input"). The paper writes H_5 for g; the reference (and the
    paper's parameter count, see :class:`RAMHead`) passes it through CGR first. With
    ``use_attention=False`` the two attention convolutions are left out (a'' = a, b'' = b'): the
    "RAM replaced by a convolutional layer" variant of Table VII (28.25M).

    Args:
        channels (int): width of a, b, g and of the output.
        use_attention (bool): Eq. 9 attention. Defaults to True.
        conv_cfg, norm_cfg, act_cfg: of CGR (mmcv ConvModule configs); the attention and fusion
            convolutions are plain 3x3 convolutions with bias (no norm, no activation), built
            with ``conv_cfg``.
        align_corners (bool): of the bilinear resizing. Defaults to False.
        init_cfg: mmengine init config. Defaults to None (mmcv/PyTorch defaults).

    Shapes:
        a: (N, C, Ha, Wa); b: (N, C, Hb, Wb); g: (N, C, Hg, Wg) -> (N, C, Ha, Wa).
    """

    def __init__(self,
                 channels: int,
                 use_attention: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.use_attention = bool(use_attention)
        self.align_corners = align_corners
        self.global_conv = ConvModule(
            channels,
            channels,
            3,
            padding=1,
            bias=True,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        if self.use_attention:
            self.attn_conv1 = build_conv_layer(conv_cfg, channels, channels, 3, padding=1)
            self.attn_conv2 = build_conv_layer(conv_cfg, channels, channels, 3, padding=1)
        self.fuse = build_conv_layer(conv_cfg, 3 * channels, channels, 3, padding=1)

    def forward(self, a: Tensor, b: Tensor, g: Tensor) -> Tensor:
        """Fuse (a, b) with g; see the class docstring. Returns (N, C, Ha, Wa)."""
        size = a.shape[2:]
        g = resize(
            self.global_conv(g), size=size, mode='bilinear', align_corners=self.align_corners)
        b = resize(b, size=size, mode='bilinear', align_corners=self.align_corners)
        if self.use_attention:
            a = a * torch.sigmoid(self.attn_conv1(a - g))
            b = b * torch.sigmoid(self.attn_conv2(b - g))
        return self.fuse(torch.cat([a, b, g], dim=1))


@MODELS.register_module()
class RAMHead(BaseDecodeHead):
    """A2S stage-2 decoder: 64-channel adapters, two RAMs, channel-sum output (Eq. 8-11).

    Inputs: the five levels of :class:`~dbdseg.models.backbones.ResNetWithStem` (E1..E5 at
    strides 2, 4, 8, 16, 32; ResNet-50 widths 64, 256, 512, 1024, 2048, ResNet-18/34 widths 64, 64,
    128, 256, 512). With H_i = adapter_i(E_i) (3x3 conv with bias + GroupNorm(32) + ReLU,
    C_i -> ``channels``; Eq. 8):

    1. ``R_r = region_ram(H_3, H_4, g=H_5)`` at stride 8 (Eq. 10, "regional" group).
    2. global path (``global_path=True``): H_5 -> 3x3 conv (``channels`` -> ``global_channels``) +
       GN(64) + ReLU -> bilinear x2 -> 3x3 conv (-> ``channels``) + GN(32) + ReLU -> bilinear x2,
       i.e. H_5 brought to stride 8 (the reference code's global path).
    3. ``R_l = local_ram(H_1, H_2, g=global path output)`` at stride 2 (Eq. 10, "local" group).
    4. ``Y = sum_c(R_l * up(R_r))`` at stride 2 (Eq. 11): the (N, 1, H/2, W/2) logit. mmseg
       resizes it bilinearly to the label size (loss) or image size (prediction); the sigmoid
       of it is the saliency probability.

    Paper vs reference: Eq. 9-10 write the raw H_5 into both RAMs. The reference code passes
    H_5 through a conv-GN-ReLU in each RAM and through the global path (2.) before the local
    RAM. dbdseg follows the reference by default because the paper's own size confirms it: the
    reference detector has 28,397,864 parameters (28.40M, Table VII, counting the unused
    ResNet-50 fc layer of 2,049,000), and without the attention convolutions 28,250,152
    (28.25M, Table VII "RAM replaced by a convolutional layer", ``use_attention=False``); the
    literal Eq. 10 (no CGR, no global path) would give 28,175,720 (28.18M), matching neither.
    (Dropping only the global path also rounds to 28.25M, 28,249,832, so the count alone does
    not say which part Table VII's variant removed; dbdseg reads "RAM replaced by a
    convolutional layer" as removing the attention.) ``global_path=False`` feeds H_5 itself to
    the local RAM (only its CGR remains), for experiments.

    This head has no ``conv_seg`` (mmseg's 1x1 classifier): Eq. 11 sums channels instead, so
    there is nothing to learn there, and an unused classifier would leave unused parameters
    (DDP ``find_unused_parameters``). ``out_channels`` must be 1 (sigmoid, ``num_classes=2``).

    Losses (:meth:`loss_by_feat`): mmseg's, but the target may be *soft*: float values in [0, 1]
    in ``gt_sem_seg`` (the A2S OLR bank's labels, written there by
    :class:`~dbdseg.models.segmentors.OLREncoderDecoder`) as well as int64 {0, 1}; pixels equal
    to ``ignore_index`` (or < 0) are ignored. Use losses that accept float targets: mmseg's
    ``CrossEntropyLoss(use_sigmoid=True, avg_non_ignore=True)`` (BCE), ``SSIMLoss``, ``IoULoss``
    (Eq. 12). ``acc_seg`` is the binary pixel accuracy in percent (prediction > ``threshold``
    against target > 0.5) over the valid pixels
    (:func:`~dbdseg.models.losses.accuracy.binary_accuracy`).

    Args:
        in_channels (Sequence[int]): widths of the 5 input levels. Defaults to ResNet-50's.
        channels (int): adapter/RAM width (the paper's 64). Defaults to 64.
        global_channels (int): width inside the global path. Defaults to 128 (reference).
        in_index (Sequence[int]): backbone outputs to use (5 of them). Defaults to (0, 1, 2, 3, 4).
        input_transform (str): must be 'multiple_select'. Defaults to 'multiple_select'.
        norm_cfg (dict): norm of the adapters, of the RAMs' CGR and of the global path's second
            conv. Defaults to GN with 32 groups (reference); with reduced ``channels`` reduce
            ``num_groups`` too (it must divide the width).
        global_norm_cfg (dict): norm of the global path's first conv (``global_channels``
            wide). Defaults to GN with 64 groups (reference).
        use_attention (bool): the attention of Eq. 9 in both RAMs. Defaults to True.
        global_path (bool): step 2 above (reference). Defaults to True.
        target_threshold (float, optional): binarise valid targets (``t > target_threshold``)
            before the losses. None (default) trains on the soft targets as they are (the
            paper: "Y^j is supervised by G^j", Eq. 13-14); 0.5 is the reference code's
            behaviour (it re-binarises the OLR labels each time, ``methods/cornet/loss.py``).
        num_classes (int): must be 2. Defaults to 2.
        out_channels (int): must be 1. Defaults to 1.
        threshold (float): probability threshold of ``pred_sem_seg``. Defaults to 0.5.
        dropout_ratio (float): Dropout2d on R_l * R_r before the sum (none in the paper).
            Defaults to 0.
        init_cfg: Defaults to None (mmcv's ConvModule init, PyTorch defaults for the plain convs).
        **kwargs: other :class:`BaseDecodeHead` arguments (``conv_cfg``, ``act_cfg``,
            ``loss_decode``, ``ignore_index``, ``align_corners``).

    Raises:
        ValueError: not exactly 5 input levels; ``input_transform`` other than
            'multiple_select'; ``out_channels != 1``; a ``sampler``; in :meth:`loss_by_feat`,
            target values outside [0, 1] that are not ``ignore_index``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 channels: int = 64,
                 global_channels: int = 128,
                 in_index: Sequence[int] = (0, 1, 2, 3, 4),
                 input_transform: str = 'multiple_select',
                 norm_cfg: Optional[dict] = dict(type='GN', num_groups=32, requires_grad=True),
                 global_norm_cfg: Optional[dict] = dict(
                     type='GN', num_groups=64, requires_grad=True),
                 use_attention: bool = True,
                 global_path: bool = True,
                 target_threshold: Optional[float] = None,
                 num_classes: int = 2,
                 out_channels: int = 1,
                 threshold: float = 0.5,
                 dropout_ratio: float = 0.0,
                 init_cfg=None,
                 **kwargs):
        if input_transform != 'multiple_select':
            raise ValueError(f'RAMHead needs input_transform="multiple_select" (the five '
                             f'backbone levels), got {input_transform!r}')
        if len(in_channels) != 5 or len(in_index) != 5:
            raise ValueError(f'RAMHead takes the 5 levels E1..E5 of ResNetWithStem: in_channels '
                             f'and in_index must have 5 entries, got {tuple(in_channels)} and '
                             f'{tuple(in_index)}')
        if out_channels != 1 or num_classes != 2:
            raise ValueError(f'RAMHead outputs one saliency logit (Eq. 11, channel sum): set '
                             f'out_channels=1, num_classes=2, got out_channels={out_channels}, '
                             f'num_classes={num_classes}')
        if kwargs.get('sampler') is not None:
            raise ValueError('RAMHead does not support a pixel sampler (soft targets)')
        if target_threshold is not None and not 0.0 <= target_threshold < 1.0:
            raise ValueError(f'target_threshold must be None or in [0, 1), got '
                             f'{target_threshold!r}')
        super().__init__(
            list(in_channels),
            channels,
            in_index=list(in_index),
            input_transform=input_transform,
            num_classes=num_classes,
            out_channels=out_channels,
            threshold=threshold,
            norm_cfg=norm_cfg,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg  # Eq. 11 sums channels; see the class docstring
        self.global_channels = int(global_channels)
        self.use_attention = bool(use_attention)
        self.global_path = bool(global_path)
        self.target_threshold = target_threshold
        self.adapters = nn.ModuleList([
            ConvModule(
                c,
                channels,
                3,
                padding=1,
                bias=True,
                conv_cfg=self.conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=self.act_cfg) for c in in_channels
        ])
        ram = dict(
            channels=channels,
            use_attention=use_attention,
            conv_cfg=self.conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=self.act_cfg,
            align_corners=self.align_corners)
        self.region_ram = ResidualAttentionModule(**ram)
        self.local_ram = ResidualAttentionModule(**ram)
        if self.global_path:
            self.global_convs = nn.ModuleList([
                ConvModule(
                    channels,
                    global_channels,
                    3,
                    padding=1,
                    bias=True,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=global_norm_cfg,
                    act_cfg=self.act_cfg),
                ConvModule(
                    global_channels,
                    channels,
                    3,
                    padding=1,
                    bias=True,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=self.act_cfg),
            ])

    def _up2(self, x: Tensor) -> Tensor:
        return resize(x, scale_factor=2, mode='bilinear', align_corners=self.align_corners)

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tensor:
        """Decode the five levels into one logit map.

        Args:
            inputs (tuple[Tensor]): backbone outputs; the levels ``in_index`` are
                (N, in_channels[i], H/2^(i+1), W/2^(i+1)) for i = 0..4.

        Returns:
            Tensor: (N, 1, H/2, W/2) logits (size of the first selected level).
        """
        feats: List[Tensor] = self._transform_inputs(inputs)
        h = [adapter(f) for adapter, f in zip(self.adapters, feats)]
        region = self.region_ram(h[2], h[3], h[4])
        g = h[4]
        if self.global_path:
            g = self._up2(self.global_convs[0](g))
            g = self._up2(self.global_convs[1](g))
        local = self.local_ram(h[0], h[1], g)
        region = resize(
            region, size=local.shape[2:], mode='bilinear', align_corners=self.align_corners)
        fused = local * region
        if self.dropout is not None:
            fused = self.dropout(fused)
        return fused.sum(dim=1, keepdim=True)

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> dict:
        """Losses with binary or soft targets; see the class docstring.

        Args:
            seg_logits (Tensor): (N, 1, h, w) logits from :meth:`forward`.
            batch_data_samples (list[SegDataSample]): each with ``gt_sem_seg`` (1, H, W), int64
                {0, 1} or float [0, 1], ``ignore_index`` = ignored.

        Returns:
            dict[str, Tensor]: one entry per ``loss_name`` of ``loss_decode`` (summed when
            repeated) and ``acc_seg``.

        Raises:
            ValueError: a target value outside [0, 1] that is not ``ignore_index``.
        """
        target = self._stack_batch_gt(batch_data_samples).float()
        seg_logits = resize(
            seg_logits, size=target.shape[2:], mode='bilinear', align_corners=self.align_corners)
        valid = (target >= 0) & (target != self.ignore_index)
        if bool((valid & (target > 1)).any()):
            raise ValueError(f'RAMHead: gt_sem_seg values must lie in [0, 1] or equal '
                             f'ignore_index={self.ignore_index}; got a maximum of '
                             f'{float(target[valid].max())}')
        if self.target_threshold is not None:
            target = torch.where(valid, (target > self.target_threshold).float(), target)
        target = target.squeeze(1)

        def loss(fn: nn.Module, logits: Tensor) -> Tensor:
            return fn(logits, target, weight=None, ignore_index=self.ignore_index)

        losses = side_output_losses([seg_logits], [1.0], self.loss_decode, loss)
        losses['acc_seg'] = binary_accuracy(seg_logits, target, self.threshold, self.ignore_index)
        return losses
