"""A2S stage-1 activation head: SE blocks on E3-E5, a fusing SE block, the activation map, the
adaptive decision boundary and the sign flip.

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-A, Eq. 1, 3, 4, 5. Details the paper leaves open follow
the "mnet" decoder of the reference code (github.com/moothes/A2S-USOD, A2S-v1,
methods/mnet/model.py); configs/a2s/README.md lists each such choice.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from dbdseg.registry import MODELS


class _SEGate(BaseModule):
    """Channel gate of the A2S "SE block": ``x * sigmoid(g(avgpool(x)))``.

    ``bottleneck_ratio=None`` (default) is the reference code's gate: ``g`` is ONE 1x1 convolution
    C -> C with bias, no reduction (A2S-USOD methods/mnet/model.py; parameter keys
    ``se.conv.*``). An integer ``r`` gives Hu et al.'s squeeze-and-excitation bottleneck instead
    (1x1 conv C -> C // r, ReLU, 1x1 conv C // r -> C; keys ``se.squeeze.*``, ``se.excite.*``).
    The paper only cites "SE block [30]" (Sec. III-A) and prints neither form.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self,
                 channels: int,
                 bottleneck_ratio: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if bottleneck_ratio is None:
            self.conv = nn.Conv2d(channels, channels, 1)
        else:
            if not isinstance(bottleneck_ratio, int) or not 1 <= bottleneck_ratio <= channels:
                raise ValueError(f'se_bottleneck_ratio must be None or an int in [1, {channels}],'
                                 f' got {bottleneck_ratio!r}')
            self.squeeze = nn.Conv2d(channels, channels // bottleneck_ratio, 1)
            self.excite = nn.Conv2d(channels // bottleneck_ratio, channels, 1)
        self.bottleneck_ratio = bottleneck_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(x, 1)
        if self.bottleneck_ratio is None:
            gate = self.conv(pooled)
        else:
            gate = self.excite(F.relu(self.squeeze(pooled)))
        return x * gate.sigmoid()


class _SEConvBlock(BaseModule):
    """3x3 conv (bias) -> norm -> activation -> SE gate: one "SE block" of A2S stage 1.

    The reference code's ``ada_block`` (A2S-USOD methods/mnet/model.py): the 3x3 convolution
    maps the encoder level to ``channels`` (64), followed by GroupNorm with ONE group, ReLU and
    the channel gate. Parameter keys: ``conv.weight``, ``conv.bias``, ``norm.weight``,
    ``norm.bias``, ``se.conv.weight``, ``se.conv.bias``. PyTorch's default initialisation, as the
    reference.

    Shapes: (N, C_in, H, W) -> (N, channels, H, W).
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 conv_cfg: Optional[dict],
                 norm_cfg: Optional[dict],
                 act_cfg: Optional[dict],
                 se_bottleneck_ratio: Optional[int],
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.conv = build_conv_layer(conv_cfg, in_channels, channels, 3, padding=1, bias=True)
        self.norm = build_norm_layer(norm_cfg, channels)[1] if norm_cfg else nn.Identity()
        self.act = build_activation_layer(act_cfg) if act_cfg else nn.Identity()
        self.se = _SEGate(channels, se_bottleneck_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.act(self.norm(self.conv(x))))


@MODELS.register_module()
class ActivationHead(BaseDecodeHead):
    """A2S stage 1: the activation map, its adaptive decision boundary and the sign flip.

    Network (Zhou et al. 2023, Sec. III-A, Eq. 1), for the default ResNet-50 levels::

        F_i   = SE_i(E_i)                        i = 3, 4, 5 (E3 /8, E4 /16, E5 /32; 64 channels)
        F     = SE_0(concat(up(F_3), up(F_4), up(F_5)))   up = bilinear to the fused size (/2)
        theta = 1^T F - mean_n(1^T F)            Eq. 3: channel sum minus its spatial mean
        out   = sign * theta                     Eq. 5: +1 if #{theta < 0} >= #{theta >= 0}

    Each SE block is a 3x3 conv (bias) + GroupNorm(1 group) + ReLU + channel gate, see
    ``_SEConvBlock``. ``theta`` and the auxiliary maps ``theta_i = 1^T F_i - mean(1^T F_i)``
    (at /8, /16, /32, not sign-flipped) are what :class:`~dbdseg.models.losses.ADBLoss` pushes
    away from 0 (paper: "F3, F4, F5 and F are supervised"). No ground truth is read:
    :meth:`loss` works on unlabeled samples (no ``gt_sem_seg``).

    Sign flip (Eq. 5): per image, ``S1 = {theta >= 0}``, ``S0 = {theta < 0}``; the map is kept if
    ``len(S0) >= len(S1)`` and negated otherwise, so the positive (foreground) region is the
    smaller one; an exact tie keeps the sign (the paper's ``>=``; the reference code zeroes the
    map on a tie). Prediction returns ``sign * theta`` resized (bilinear) to the network input,
    a 1-channel logit: mmseg's ``postprocess_result`` turns it into ``seg_logits`` =
    ``sigmoid(sign * theta)`` in [0, 1], the soft map of Eq. 6 before CRF and median filter.

    Padding: when the batch was padded (``padding_size`` / ``img_padding_size`` metainfo from
    ``SegDataPreProcessor``), the spatial means, the sign vote and the loss use only the feature
    cells that overlap the image; with the paper's 320 x 320 resize there is no padding.

    Encoder freezing is NOT done here: the config freezes the backbone (``frozen_stages=4``
    freezes weights and BatchNorm statistics of ``ResNetWithStem``; see the stage-1 configs).

    Choices where the paper is silent (each a constructor argument; also listed in
    configs/a2s/README.md, "What the paper does not say"):

    * ``se_bottleneck_ratio=None``: the reference code's one-convolution gate (see ``_SEGate``).
    * ``aux_loss_weights=(0.1, 0.3, 0.5)`` for (F3, F4, F5), weight 1 for F: the reference code's
      weights (A2S-USOD methods/mnet/loss.py); the paper does not give any.
    * ``fuse_size_index=0``: the fused map takes the size of backbone output 0 (the stride-2 stem
      level E1), as the reference. ``None`` = the size of the first selected level.
    * ``loss_at_input_size=False``: the ADB loss of F is computed at F's own resolution (the paper
      defines ``theta`` on the features of F); True upsamples ``theta`` to the network input first
      (bilinear), as the reference code does. Aux maps are always at their own resolution.
    * ``fc_weight_scaling=False``: the reference v1 multiplies E5 channel-wise by the column sums
      of the encoder's (random, with MoCo weights) ``fc.weight`` before its SE block
      (A2S-USOD methods/mnet/model.py; not in the paper and removed in A2S-v2, so we treat it as
      accidental). True adds a buffer ``e5_channel_scale`` (C5,), initialised to ones,
      that a converted official checkpoint can fill.

    Args:
        in_channels (Sequence[int]): Channels of the selected levels, ResNet-50 E3, E4, E5 by
            default; ResNet-18/34: (128, 256, 512). Defaults to (512, 1024, 2048).
        channels (int): Width of every SE block. Defaults to 64 (the reference's).
        in_index (Sequence[int]): Indices of E3, E4, E5 in the backbone outputs. Defaults to
            (2, 3, 4), for ``ResNetWithStem`` with its default ``out_indices=(0, 1, 2, 3, 4)``.
        fuse_size_index (int, optional): Backbone output whose spatial size the fused map takes
            (see above). Defaults to 0.
        se_bottleneck_ratio (int, optional): See above. Defaults to None.
        aux_loss_weights (Sequence[float]): Loss weight of each selected level's auxiliary map;
            same length as ``in_channels``. Defaults to (0.1, 0.3, 0.5).
        loss_at_input_size (bool): See above. Defaults to False.
        fc_weight_scaling (bool): See above. Defaults to False.
        conv_cfg (dict, optional): Convolution config of the SE blocks. Defaults to None
            (Conv2d).
        norm_cfg (dict, optional): Norm of the SE blocks. Defaults to GroupNorm with 1 group.
        act_cfg (dict, optional): Activation of the SE blocks. Defaults to ReLU.
        loss_decode (dict): The loss, applied to every map. Defaults to
            ``dict(type='ADBLoss', alpha=0.1, drop_ratio=0.5, loss_weight=1.0)``.
        num_classes (int): Must be 2. out_channels (int): Must be 1 (mmseg's binary convention).
        threshold (float): Probability threshold of ``pred_sem_seg``. Defaults to 0.5.
        align_corners (bool): For every bilinear resize. Defaults to False.
        init_cfg (dict, optional): Defaults to None (PyTorch's default initialisation, as the
            reference).
        **kwargs: Other :class:`~mmseg.models.decode_heads.decode_head.BaseDecodeHead`
            arguments, except ``input_transform`` (always ``'multiple_select'``) and
            ``dropout_ratio`` (0; there is no classifier).

    Raises:
        ValueError: ``out_channels != 1`` or ``num_classes != 2``; ``in_channels`` / ``in_index``
            / ``aux_loss_weights`` of different lengths or empty; a list of losses in
            ``loss_decode``; ``input_transform`` or a non-zero ``dropout_ratio`` given; a bad
            ``se_bottleneck_ratio``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024, 2048),
                 channels: int = 64,
                 in_index: Sequence[int] = (2, 3, 4),
                 fuse_size_index: Optional[int] = 0,
                 se_bottleneck_ratio: Optional[int] = None,
                 aux_loss_weights: Sequence[float] = (0.1, 0.3, 0.5),
                 loss_at_input_size: bool = False,
                 fc_weight_scaling: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='GN', num_groups=1, requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 loss_decode: dict = dict(
                     type='ADBLoss', alpha=0.1, drop_ratio=0.5, loss_weight=1.0),
                 num_classes: int = 2,
                 out_channels: int = 1,
                 threshold: float = 0.5,
                 align_corners: bool = False,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if out_channels != 1 or num_classes != 2:
            raise ValueError('ActivationHead predicts one foreground logit: out_channels must be 1 '
                             f'and num_classes 2, got out_channels={out_channels}, '
                             f'num_classes={num_classes}')
        if 'input_transform' in kwargs:
            raise ValueError('ActivationHead always uses input_transform="multiple_select"; do '
                             'not set it')
        if kwargs.pop('dropout_ratio', 0) not in (0, 0.0, None):
            raise ValueError('ActivationHead has no classifier and no dropout: dropout_ratio '
                             'must be 0')
        in_channels = tuple(in_channels) if isinstance(in_channels, (list, tuple)) else None
        in_index = tuple(in_index) if isinstance(in_index, (list, tuple)) else None
        aux_loss_weights = tuple(float(w) for w in aux_loss_weights)
        if not in_channels or in_index is None or len(in_channels) != len(in_index):
            raise ValueError('ActivationHead: in_channels and in_index must be non-empty '
                             f'sequences of the same length, got in_channels={in_channels}, '
                             f'in_index={in_index}')
        if len(aux_loss_weights) != len(in_channels):
            raise ValueError(f'ActivationHead: aux_loss_weights {aux_loss_weights} must have one '
                             f'weight per selected level ({len(in_channels)})')
        if isinstance(loss_decode, (list, tuple)):
            raise ValueError('ActivationHead takes one loss config (ADBLoss) in loss_decode, '
                             f'got a list of {len(loss_decode)}')
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            out_channels=out_channels,
            threshold=threshold,
            dropout_ratio=0.0,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            in_index=in_index,
            input_transform='multiple_select',
            loss_decode=loss_decode,
            align_corners=align_corners,
            init_cfg=init_cfg,
            **kwargs)
        # The 1x1 classifier of BaseDecodeHead is not part of A2S: the output is a channel sum.
        del self.conv_seg
        self.fuse_size_index = fuse_size_index
        self.aux_loss_weights = aux_loss_weights
        self.loss_at_input_size = bool(loss_at_input_size)
        self.fc_weight_scaling = bool(fc_weight_scaling)
        self.level_blocks = nn.ModuleList([
            _SEConvBlock(c, channels, conv_cfg, norm_cfg, act_cfg, se_bottleneck_ratio)
            for c in in_channels
        ])
        self.fuse_block = _SEConvBlock(channels * len(in_channels), channels, conv_cfg, norm_cfg,
                                       act_cfg, se_bottleneck_ratio)
        if self.fc_weight_scaling:
            self.register_buffer('e5_channel_scale', torch.ones(in_channels[-1]))

    # ------------------------------------------------------------------ maps
    @staticmethod
    def decision_values(feat: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 3: ``theta_n = 1^T f_n - 1^T mean_n(f_n)`` (channel sum minus its spatial mean).

        Args:
            feat (Tensor): (N, C, H, W) features.
            valid (Tensor, optional): (N, 1, H, W) {0, 1} mask of the cells the mean is taken
                over (None = all).

        Returns:
            Tensor: (N, 1, H, W) decision values (the mean over valid cells is 0).
        """
        act = feat.sum(dim=1, keepdim=True)  # activation map M
        if valid is None:
            return act - act.mean(dim=(2, 3), keepdim=True)
        total = (act * valid).sum(dim=(2, 3), keepdim=True)
        count = valid.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
        return act - total / count

    @staticmethod
    def flip_sign(theta: torch.Tensor, valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 5: per image +1 if ``#{theta < 0} >= #{theta >= 0}``, else -1.

        Args:
            theta (Tensor): (N, 1, H, W) decision values.
            valid (Tensor, optional): (N, 1, H, W) {0, 1} mask of the cells that vote.

        Returns:
            Tensor: (N, 1, 1, 1) signs in {+1, -1}, same dtype as ``theta``, no gradient.
        """
        theta = theta.detach()
        valid = torch.ones_like(theta) if valid is None else valid.to(theta)
        n_pos = ((theta >= 0).to(theta) * valid).sum(dim=(1, 2, 3))
        n_neg = ((theta < 0).to(theta) * valid).sum(dim=(1, 2, 3))
        sign = torch.where(n_neg >= n_pos, torch.ones_like(n_pos), -torch.ones_like(n_pos))
        return sign.view(-1, 1, 1, 1)

    def forward_maps(self,
                     inputs: Sequence[torch.Tensor],
                     batch_img_metas: Optional[List[dict]] = None) -> Dict[str, object]:
        """Run the head and return every map.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs; ``inputs[i]`` for ``i`` in ``in_index``
                are E3, E4, E5 with ``in_channels`` channels; ``inputs[fuse_size_index]`` gives
                the fused size.
            batch_img_metas (list[dict], optional): Per-sample metainfo; used only to find padded
                areas (``img_shape`` and ``padding_size`` / ``img_padding_size``).

        Returns:
            dict: ``theta`` (N, 1, h, w) un-flipped decision values of F at the fused size;
            ``sign`` (N, 1, 1, 1); ``logit`` = ``sign * theta``; ``aux_theta``: list of
            (N, 1, h_i, w_i) decision values of F3, F4, F5 (un-flipped); ``valid`` /
            ``aux_valid``: matching {0, 1} masks or None (no padding); ``input_size``: (H, W) of
            the network input from the metainfo, or None without it.

        Raises:
            ValueError: a selected level's channel count differs from ``in_channels``.
        """
        feats = self._transform_inputs(inputs)
        if len(feats) != len(self.level_blocks):
            raise ValueError(f'ActivationHead expects {len(self.level_blocks)} selected levels, '
                             f'got {len(feats)}')
        levels = []
        for i, (x, block) in enumerate(zip(feats, self.level_blocks)):
            if x.shape[1] != self.in_channels[i]:
                raise ValueError(f'ActivationHead: backbone output {self.in_index[i]} has '
                                 f'{x.shape[1]} channels, in_channels[{i}] is '
                                 f'{self.in_channels[i]} (set decode_head.in_channels to match '
                                 'the backbone depth)')
            if self.fc_weight_scaling and i == len(feats) - 1:
                x = x * self.e5_channel_scale.view(1, -1, 1, 1).to(x)
            levels.append(block(x))
        if self.fuse_size_index is None:
            size = levels[0].shape[2:]
        else:
            size = inputs[self.fuse_size_index].shape[2:]
        upsampled = [
            resize(x, size=size, mode='bilinear', align_corners=self.align_corners) for x in levels
        ]
        fused = self.fuse_block(torch.cat(upsampled, dim=1))
        input_hw = self._input_size(batch_img_metas)
        valid = self._valid_mask(batch_img_metas, input_hw, fused)
        theta = self.decision_values(fused, valid)
        sign = self.flip_sign(theta, valid)
        aux_valid = [self._valid_mask(batch_img_metas, input_hw, x) for x in levels]
        aux_theta = [self.decision_values(x, v) for x, v in zip(levels, aux_valid)]
        return dict(
            theta=theta,
            sign=sign,
            logit=sign * theta,
            valid=valid,
            aux_theta=aux_theta,
            aux_valid=aux_valid,
            input_size=input_hw)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Sign-flipped decision values of F (Eq. 3 and 5), (N, 1, h, w) at the fused size
        (stride 2 by default); a logit: ``sigmoid`` of it is the soft saliency map."""
        return self.forward_maps(inputs)['logit']

    # ------------------------------------------------------------------ padding helpers
    @staticmethod
    def _padding(meta: dict) -> Tuple[int, int, int, int]:
        pad = meta.get('img_padding_size', meta.get('padding_size', None))
        if pad is None:
            return (0, 0, 0, 0)
        return tuple(int(p) for p in pad)

    def _input_size(self, batch_img_metas: Optional[List[dict]]) -> Optional[Tuple[int, int]]:
        """(H, W) of the network input (image plus padding), or None without metainfo."""
        if not batch_img_metas or batch_img_metas[0].get('img_shape') is None:
            return None
        meta = batch_img_metas[0]
        left, right, top, bottom = self._padding(meta)
        h, w = meta['img_shape'][:2]
        return int(h) + top + bottom, int(w) + left + right

    def _valid_mask(self, batch_img_metas: Optional[List[dict]], input_hw: Optional[Tuple[int,
                                                                                          int]],
                    feat: torch.Tensor) -> Optional[torch.Tensor]:
        """(N, 1, h, w) {0, 1} mask of the feature cells overlapping the unpadded image, or None
        when nothing is padded."""
        if input_hw is None or not any(any(self._padding(m)) for m in batch_img_metas):
            return None
        big_h, big_w = input_hw
        h, w = feat.shape[2:]
        mask = feat.new_zeros((feat.shape[0], 1, h, w))
        for i, meta in enumerate(batch_img_metas):
            left, right, top, bottom = self._padding(meta)
            r0, r1 = (top * h) // big_h, -((-(big_h - bottom) * h) // big_h)
            c0, c1 = (left * w) // big_w, -((-(big_w - right) * w) // big_w)
            mask[i, :, r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)] = 1
        return mask

    # ------------------------------------------------------------------ mmseg API
    def loss(self, inputs: Sequence[torch.Tensor], batch_data_samples: list,
             train_cfg: dict) -> Dict[str, torch.Tensor]:
        """ADB losses of F (``loss_adb``) and of each level (``loss_adb_f3`` ... for backbone
        outputs 2, 3, 4), plus ``fg_frac``: the mean fraction of valid pixels of F that are
        positive after the sign flip (a log value, in [0, 0.5] by Eq. 5; not a loss).

        Args:
            inputs (Sequence[Tensor]): Backbone outputs.
            batch_data_samples (list[SegDataSample]): Samples; only their metainfo is read (no
                ground truth is needed).
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: Scalar losses and the ``fg_frac`` log value.
        """
        metas = [s.metainfo for s in batch_data_samples] if batch_data_samples else None
        maps = self.forward_maps(inputs, metas)
        theta, valid = maps['theta'], maps['valid']
        if self.loss_at_input_size:
            size = maps['input_size'] or tuple(2 * s for s in theta.shape[2:])
            theta = resize(theta, size=size, mode='bilinear', align_corners=self.align_corners)
            if valid is not None:
                valid = self._valid_mask(metas, maps['input_size'], theta)
        name = self.loss_decode.loss_name
        losses = {name: self.loss_decode(theta, weight=valid)}
        for idx, weight, aux, aux_valid in zip(self.in_index, self.aux_loss_weights,
                                               maps['aux_theta'], maps['aux_valid']):
            if weight:
                losses[f'{name}_f{idx + 1}'] = weight * self.loss_decode(aux, weight=aux_valid)
        with torch.no_grad():
            pos = (maps['logit'] > 0).to(maps['logit'])
            fvalid = torch.ones_like(pos) if maps['valid'] is None else maps['valid']
            losses['fg_frac'] = ((pos * fvalid).sum(dim=(1, 2, 3)) /
                                 fvalid.sum(dim=(1, 2, 3)).clamp_min(1.0)).mean()
        return losses

    def predict(self, inputs: Sequence[torch.Tensor], batch_img_metas: List[dict],
                test_cfg: dict) -> torch.Tensor:
        """Sign-flipped ``theta`` resized (bilinear) to the network input: (N, 1, H, W) logits.

        mmseg's ``postprocess_result`` then removes padding, resizes to the original image size
        and applies the sigmoid, so ``seg_logits`` = ``sigmoid(sign * theta)`` in [0, 1] and
        ``pred_sem_seg`` = ``seg_logits > threshold``.
        """
        maps = self.forward_maps(inputs, batch_img_metas)
        logit = maps['logit']
        size = maps['input_size'] or tuple(2 * s for s in logit.shape[2:])
        return resize(logit, size=size, mode='bilinear', align_corners=self.align_corners)

    def loss_by_feat(self, seg_logits, batch_data_samples):  # pragma: no cover - not used
        raise NotImplementedError('ActivationHead computes its losses in loss(); it needs no '
                                  'ground truth')
