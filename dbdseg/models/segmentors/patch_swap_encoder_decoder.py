"""PatchSwapEncoderDecoder: the training objective of Zhang & Yan's real-time DBD model.

Source: N. Zhang, J. Yan, "Rethinking the Defocus Blur Detection Problem and A Real-Time Deep DBD
Model", ECCV 2020, Sections 3.2-3.3 (Eq. 1-8), 4.1 and 4.3-4.4. The loss terms are the functions
of :mod:`dbdseg.models.losses.patch_swap_loss`.

* Patch swap + self-supervision (Sec. 3.2, Eq. 1-5): I' = f(I) swaps two random patches of the
  input image, G' = f(G); O = net(I), O' = net(I'), O'' = f(O).
  ``L_ori = BCE(O, G)`` (Eq. 1), ``L_aug = BCE(O', G')`` (Eq. 2),
  ``L_self = mean |O' - O''|`` (Eq. 4, L1), ``L = L_ori + L_aug + lambda_s * L_self`` (Eq. 5).
* Hard mining (Sec. 3.3, Eq. 6-8): ``H = (S u F) - (S n F) = S xor F`` with S the salient
  region (an external saliency map) and F the in-focus region (the ground truth, label 1);
  pixels of H get ``w_hard`` times the weight of the others ("double weights", Sec. 4.1) in both
  BCE terms: W in L_ori (Eq. 6) and the swapped W' = f(W) in L_aug (Eq. 7);
  ``L_total = L_weighted + L_weightedaug + lambda_s * L_self`` (Eq. 8).

The loss is computed here, in the segmentor, because it needs both views of the batch; the
decode head's own ``loss_decode`` (and ``loss``) are not used in training. Prediction
(``predict``, ``_forward``, ``inference``) is mmseg's ``EncoderDecoder`` unchanged: no extra
cost at test time.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from dbdseg.models.losses.patch_swap_loss import (LOSS_REDUCTIONS, hard_mining_weights,
                                                  self_supervision_loss, weighted_bce_with_logits)
from dbdseg.models.utils.patch_swap import sample_swap_boxes, swap_patches
from dbdseg.registry import MODELS

__all__ = ['PatchSwapEncoderDecoder']


@MODELS.register_module()
class PatchSwapEncoderDecoder(EncoderDecoder):
    """EncoderDecoder trained with patch swap, self-supervision and hard mining (Zhang & Yan 2020).

    Training (:meth:`loss`), with G the (B, 1, H, W) ground truth (label 1 = in-focus, 255 =
    ignored) and W the hard-mining weights (all ones unless ``hard_mining``):

    1. ``O = head(extract_feat(I))``: 1-channel logits, resized (bilinear, the head's
       ``align_corners``) to the input size H x W when the head outputs another size.
    2. ``loss_ori`` = weighted BCE(O, G, W) over the valid pixels (Eq. 1, or Eq. 6 with hard
       mining).
    3. If ``self_supervision``: per image, two non-overlapping ``patch_size`` squares are drawn
       at random (:func:`~dbdseg.models.utils.sample_swap_boxes`, torch's global RNG, so
       mmengine's ``randomness.seed`` makes it reproducible) at the *input* resolution;
       ``I' = f(I)``, ``G' = f(G)`` (ignored pixels move with their pixels), ``W' = f(W)``;
       ``O' = head(extract_feat(I'))`` (resized likewise). Because O and O' are resized to the
       input size before the swap, the swap is applied at one resolution to everything (a head
       whose output is coarser than the input is upsampled first; the patch borders then need
       not fall on logit pixels).

       * ``loss_aug`` = weighted BCE(O', G', W') (Eq. 2 / Eq. 7);
       * ``loss_self = lambda_self * mean |sigmoid(O') - f(sigmoid(O))|`` over the pixels
         valid in G' (Eq. 4-5/8). The paper's O are the network's output maps, read here as
         probabilities (after the sigmoid), so the L1 is between probabilities in [0, 1]. A
         pixel p of view 2 and pixel f(p) of view 1 show the same content with the same label
         (G'[p] = G[f(p)]), so "valid in both views" is exactly ``G' != 255``.

    The returned dict has exactly the keys ``loss_ori``, ``loss_aug`` and ``loss_self``
    (the paper's L_ori, L_aug, L_self), or only ``loss_ori`` when ``self_supervision=False``;
    mmengine sums them into the total of Eq. 5 / Eq. 8 (``loss_self`` already includes
    ``lambda_self``).

    Note: ``self_supervision=True, lambda_self=0`` still trains ``L_aug`` on the swapped
    images; the paper says lambda_s = 0 "boils down to BCE" (Sec. 4.4), but its "BCE" rows
    (Table 1) are ``self_supervision=False`` here.

    Args:
        backbone, decode_head, neck, train_cfg, test_cfg, data_preprocessor, pretrained,
            init_cfg: as mmseg's ``EncoderDecoder``. ``decode_head`` must have
            ``out_channels=1`` (sigmoid head); its ``loss_decode`` is not used in training (the
            losses above are computed here) and it must not have a ``sampler``.
        auxiliary_head: must be None (not supported; ValueError otherwise).
        patch_size (int): side of the two swapped squares, in input pixels. Paper: 64 in
            Sec. 3.2, 16 in Sec. 4.1 (both work). Defaults to 64.
        lambda_self (float): lambda_s of Eq. 5/8 (>= 0). Paper: 0.2; Table 2 sweeps 0.0-0.5.
            Defaults to 0.2.
        self_supervision (bool): False = plain (weighted) BCE training, the paper's "BCE"
            rows: only ``loss_ori``, no swapped view. Defaults to True.
        hard_mining (bool): weight the BCE terms with W (Eq. 6-8). Needs a
            ``gt_saliency_map`` (float (1, H, W) in [0, 1]) on every training sample
            (``saliency_map_path`` in the dataset's ``data_prefix``). Defaults to False.
        w_hard (float): weight of the hard region (> 0); Sec. 4.1 "double weights".
            ``w_hard=1`` is the same as no hard mining. Defaults to 2.0.
        saliency_threshold (float): S = saliency > threshold (not in the paper; dbdseg's
            choice). Defaults to 0.5.
        detach_self_target (bool): detach O'' = f(sigmoid(O)) in ``loss_self``, so that the
            self-supervision gradient flows through O' only. Not stated in the paper (dbdseg's
            choice: no detach). Defaults to False.
        loss_reduction (str): normalisation of the BCE terms, not given in the paper:
            ``'mean_valid'`` (sum of W * bce over the valid pixels / number of valid pixels) or
            ``'sum_per_image'`` (the sum of Eq. 1 per image, averaged over the batch). See
            :func:`~dbdseg.models.losses.patch_swap_loss.weighted_bce_with_logits`.
            ``loss_self`` is always a mean (Eq. 4 has 1 / (h * w)). Defaults to 'mean_valid'.
        swap_align (int): top-left corners of the patches are multiples of this (1 = any
            pixel; not in the paper). Defaults to 1.
        concat_views (bool): run the original and the swapped batch through the network as
            one batch of 2B (True: BatchNorm statistics over both views, one running-stat
            update) or as two forward passes (False). Not stated in the paper. Defaults to True.

    Raises:
        ValueError: at construction, an ``auxiliary_head``, a decode head with
            ``out_channels != 1`` or with a ``sampler``, or an invalid argument above; in
            :meth:`loss`, ground truth whose size differs from the input's, two patches that do
            not fit (message gives the sizes), or, with ``hard_mining``, a sample without
            ``gt_saliency_map`` or with one of another size (message names ``img_path``).
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 patch_size: int = 64,
                 lambda_self: float = 0.2,
                 self_supervision: bool = True,
                 hard_mining: bool = False,
                 w_hard: float = 2.0,
                 saliency_threshold: float = 0.5,
                 detach_self_target: bool = False,
                 loss_reduction: str = 'mean_valid',
                 swap_align: int = 1,
                 concat_views: bool = True):
        name = type(self).__name__
        if auxiliary_head is not None:
            raise ValueError(f'{name} does not support an auxiliary_head (the paper trains one '
                             f'output map); remove auxiliary_head from the model config')
        if int(patch_size) != patch_size or patch_size < 1:
            raise ValueError(f'{name}: patch_size must be a positive integer, got {patch_size!r}')
        if int(swap_align) != swap_align or swap_align < 1:
            raise ValueError(f'{name}: swap_align must be a positive integer, got {swap_align!r}')
        if lambda_self < 0:
            raise ValueError(f'{name}: lambda_self must be >= 0, got {lambda_self}')
        if w_hard <= 0:
            raise ValueError(f'{name}: w_hard must be > 0, got {w_hard}')
        if loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(f'{name}: loss_reduction must be one of {LOSS_REDUCTIONS}, '
                             f'got {loss_reduction!r}')
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=None,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        if self.decode_head.out_channels != 1:
            raise ValueError(f'{name} needs a 1-channel (sigmoid) decode head: set '
                             f'decode_head.out_channels=1 (with num_classes=2 and a threshold), '
                             f'got out_channels={self.decode_head.out_channels}')
        if getattr(self.decode_head, 'sampler', None) is not None:
            raise ValueError(f'{name} computes its own losses and would ignore the decode '
                             f'head\'s sampler: remove decode_head.sampler')
        self.patch_size = int(patch_size)
        self.lambda_self = float(lambda_self)
        self.self_supervision = bool(self_supervision)
        self.hard_mining = bool(hard_mining)
        self.w_hard = float(w_hard)
        self.saliency_threshold = float(saliency_threshold)
        self.detach_self_target = bool(detach_self_target)
        self.loss_reduction = loss_reduction
        self.swap_align = int(swap_align)
        self.concat_views = bool(concat_views)

    @property
    def ignore_index(self) -> int:
        """The ignored label: the decode head's ``ignore_index`` (255 by default)."""
        return int(getattr(self.decode_head, 'ignore_index', 255))

    # ----------------------------------------------------------------------------------------
    # training
    # ----------------------------------------------------------------------------------------
    def sample_swap_boxes(self, inputs: Tensor) -> Tensor:
        """(B, 2, 2) int64 top-left (y, x) corners of patch A and B per image, on inputs' device.

        Uses torch's global RNG (seeded by mmengine's ``randomness``); override or patch this
        method to control the swap (the tests do).
        """
        b, _, h, w = inputs.shape
        return sample_swap_boxes(
            b, h, w, self.patch_size, device=inputs.device, align=self.swap_align)

    def _logits(self, inputs: Tensor) -> Tensor:
        """(N, C, H, W) inputs -> (N, 1, H, W) logits at the input size (bilinear if needed)."""
        logits = self.decode_head.forward(self.extract_feat(inputs))
        if logits.shape[-2:] != inputs.shape[-2:]:
            logits = F.interpolate(
                logits, size=inputs.shape[-2:], mode='bilinear', align_corners=self.align_corners)
        return logits

    def _stack_targets(self, inputs: Tensor, data_samples: SampleList):
        """Stack G (B, 1, H, W) int64 and W (B, 1, H, W) float from the data samples."""
        gt = torch.stack([s.gt_sem_seg.data for s in data_samples]).to(inputs.device)
        if gt.dim() != 4 or gt.shape[1] != 1 or gt.shape[-2:] != inputs.shape[-2:]:
            raise ValueError(f'{type(self).__name__}: gt_sem_seg must be (1, H, W) at the input '
                             f'size {tuple(inputs.shape[-2:])}, got stacked {tuple(gt.shape)} '
                             f'(pad or resize both in the pipeline / data preprocessor)')
        gt = gt.long()
        if not self.hard_mining:
            return gt, torch.ones(gt.shape, dtype=torch.float32, device=gt.device)
        saliency = torch.stack([self._saliency_of(s, gt[i])
                                for i, s in enumerate(data_samples)]).to(gt.device)
        weights = hard_mining_weights(gt, saliency.float(), self.w_hard, self.saliency_threshold,
                                      self.ignore_index)
        return gt, weights

    def _saliency_of(self, data_sample, gt: Tensor) -> Tensor:
        """The (1, H, W) float saliency map of one sample, padded to the ground truth's size.

        mmseg's ``SegDataPreProcessor`` pads ``gt_sem_seg`` (bottom/right, 255) to the batch
        size but not ``gt_saliency_map``; a smaller saliency map is padded the same way with
        255, which is only accepted where the ground truth is ignored there.
        """
        img = data_sample.metainfo.get('img_path', '<no img_path in metainfo>')
        name = type(self).__name__
        if 'gt_saliency_map' not in data_sample:
            raise ValueError(
                f'{name}(hard_mining=True): training sample {img} has no gt_saliency_map; add '
                f'saliency_map_path to the dataset\'s data_prefix (docs/en/conventions.md) or '
                f'set hard_mining=False')
        sal = data_sample.gt_saliency_map.data
        h, w = gt.shape[-2:]
        if sal.dim() != 3 or sal.shape[0] != 1 or sal.shape[1] > h or sal.shape[2] > w:
            raise ValueError(f'{name}: gt_saliency_map of {img} has shape {tuple(sal.shape)}, '
                             f'expected (1, {h}, {w}) like gt_sem_seg')
        ph, pw = h - sal.shape[1], w - sal.shape[2]
        if ph or pw:
            padded = torch.ones(h, w, dtype=torch.bool, device=gt.device)
            padded[:sal.shape[1], :sal.shape[2]] = False
            if bool((gt[0][padded] != self.ignore_index).any()):
                raise ValueError(f'{name}: gt_saliency_map of {img} has shape '
                                 f'{tuple(sal.shape)}, smaller than gt_sem_seg (1, {h}, {w}) '
                                 f'where the ground truth is not padding')
            sal = F.pad(sal, (0, pw, 0, ph), value=float(self.ignore_index))
        return sal

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of Eq. 5 (Eq. 8 with hard mining) for a batch.

        Args:
            inputs (Tensor): (B, C, H, W) normalised images from the data preprocessor.
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W) int64 in {0, 1}
                (255 = ignored) and, with ``hard_mining``, ``gt_saliency_map`` (1, H, W) float
                in [0, 1].

        Returns:
            dict[str, Tensor]: scalar ``loss_ori``, ``loss_aug``, ``loss_self`` (the last two
            only with ``self_supervision``); ``loss_self`` is already multiplied by
            ``lambda_self``.

        Raises:
            ValueError: see the class docstring.
        """
        gt, weights = self._stack_targets(inputs, data_samples)
        bce = dict(ignore_index=self.ignore_index, reduction=self.loss_reduction)
        if not self.self_supervision:
            return dict(loss_ori=weighted_bce_with_logits(self._logits(inputs), gt, weights, **bce))

        boxes = self.sample_swap_boxes(inputs)
        p = self.patch_size
        inputs_swap = swap_patches(inputs, boxes, p)
        if self.concat_views:
            logits, logits_swap = self._logits(torch.cat([inputs,
                                                          inputs_swap])).split(inputs.shape[0])
        else:
            logits, logits_swap = self._logits(inputs), self._logits(inputs_swap)
        gt_swap = swap_patches(gt, boxes, p)
        weights_swap = swap_patches(weights, boxes, p)

        target = swap_patches(logits.sigmoid(), boxes, p)  # O''
        if self.detach_self_target:
            target = target.detach()
        return dict(
            loss_ori=weighted_bce_with_logits(logits, gt, weights, **bce),
            loss_aug=weighted_bce_with_logits(logits_swap, gt_swap, weights_swap, **bce),
            loss_self=self.lambda_self *
            self_supervision_loss(logits_swap.sigmoid(), target, gt_swap != self.ignore_index))
