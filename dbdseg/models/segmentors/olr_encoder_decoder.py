"""OLREncoderDecoder: A2S stage-2 training with Online Label Rectification.

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 13-14 ("Online Label Rectifying"); as in the
authors' code (github.com/moothes/A2S-USOD, ``train_stage2.py``), each batch's stored labels are
updated right after its forward pass.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor

from dbdseg.registry import MODELS

__all__ = ['OLREncoderDecoder', 'flip_map']

_FLIP_DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}


def flip_map(x: Tensor, flip: bool, direction: Optional[str]) -> Tensor:
    """Apply (or undo: every flip is its own inverse) the flip an mmcv ``RandomFlip`` recorded.

    Args:
        x (Tensor): (..., H, W) map in the orientation of the original image (to apply) or of
            the augmented sample (to undo).
        flip (bool): the sample's ``flip`` metainfo (False/None: nothing to do).
        direction (str, optional): the sample's ``flip_direction``: 'horizontal' (W axis),
            'vertical' (H axis) or 'diagonal' (both), as in mmcv's ``imflip``.

    Returns:
        Tensor: ``x`` flipped like the sample (a new tensor), or ``x`` itself when not flipped.

    Raises:
        ValueError: ``flip`` set with an unknown direction.
    """
    if not flip:
        return x
    if direction not in _FLIP_DIMS:
        raise ValueError(f'unknown flip_direction {direction!r}; expected one of '
                         f'{tuple(_FLIP_DIMS)}')
    return torch.flip(x, dims=_FLIP_DIMS[direction])


@MODELS.register_module()
class OLREncoderDecoder(EncoderDecoder):
    """EncoderDecoder trained on a per-image bank of soft labels updated online (A2S OLR).

    Training (:meth:`loss`), for a batch of B samples at the training resolution H x W, each with
    ``gt_pseudo_label`` (the stage-1 pseudo label G, float (1, H, W) in [0, 1], packed by
    ``PackBinarySegInputs`` when the dataset's ``data_prefix`` has ``pseudo_label_path``):

    1. rows = the bank rows of the samples' ``img_path``. A row seen for the first time is
       initialised with the sample's ``gt_pseudo_label`` with its flip undone (G^1 = G, Eq. 14).
    2. target = the bank row (G^j) flipped like the sample; pixels where the packed pseudo label
       is not in [0, 1] (padding, ``seg_pad_val`` 255) are set to the head's ``ignore_index``.
       The target replaces ``gt_sem_seg`` (as float (1, H, W)) on the data sample: A2S uses no
       human labels, so a ``gt_sem_seg`` loaded from masks is overwritten and never used.
    3. losses = the decode head's ``loss_by_feat`` on one forward pass (prefixed ``decode.``);
       the head must accept float targets (``RAMHead``: BCE + SSIM + IoU, Eq. 12).
    4. with ``olr_lambda < 1`` (set each epoch by :class:`~dbdseg.engine.hooks.OLRHook`):
       Y = sigmoid(logits) of the same forward pass, detached, resized bilinearly to H x W, its
       flip undone; the bank rows become ``lambda * G + (1 - lambda) * Y`` (Eq. 14) on the valid
       pixels, unchanged elsewhere. Rows of other images are not touched.

    Per epoch every image is seen once, so the per-iteration update equals Eq. 14's per-epoch
    G^(j+1) = lambda G^j + (1 - lambda) Y^j, with Y^j the prediction at the iteration that saw
    the image (as in the authors' code). With ``olr_lambda == 1`` (the paper's first
    two epochs) nothing is written except first-time initialisation.

    The bank is any object with ``rows_of(img_paths)``, ``shape`` ((H, W)),
    ``is_initialised(rows)``, ``init_rows(rows, values)``, ``read(rows)`` and
    ``update(rows, y, lam, mask)`` (see :class:`~dbdseg.engine.label_bank.OLRLabelBank`);
    ``OLRHook`` creates it and sets ``model.olr_bank`` and ``model.olr_lambda``. Prediction is
    mmseg's ``EncoderDecoder`` unchanged.

    Geometry: the bank stores one map per image at the training resolution in the original
    orientation, so the train pipeline must give every image one fixed geometry (a fixed-size
    ``Resize``) up to flips, which are undone with the ``flip``/``flip_direction`` metainfo
    (one ``RandomFlip``; two flips in one pipeline would record only the last). Random crops,
    rotations or multi-scale resizing would misalign the bank and are not supported.

    Args:
        backbone, decode_head, neck, train_cfg, test_cfg, data_preprocessor, pretrained,
            init_cfg: as mmseg's ``EncoderDecoder``. ``decode_head.out_channels`` must be 1.
        auxiliary_head: must be None (ValueError otherwise).
        require_bank (bool): raise in :meth:`loss` when no bank is attached (the config lacks
            ``OLRHook``). False trains on the packed ``gt_pseudo_label`` without rectification.
            Defaults to True.
        pseudo_label_field (str): data-sample field of the initial pseudo labels.
            Defaults to 'gt_pseudo_label'.

    Raises:
        ValueError: at construction, an auxiliary head or a decode head with
            ``out_channels != 1``; in :meth:`loss`, no bank attached with ``require_bank``, a
            sample without the pseudo-label field (names ``img_path``), a pseudo label or bank
            whose size differs from the input's, or an image the bank does not know.
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
                 require_bank: bool = True,
                 pseudo_label_field: str = 'gt_pseudo_label'):
        name = type(self).__name__
        if auxiliary_head is not None:
            raise ValueError(f'{name} does not support an auxiliary_head (A2S trains one output '
                             f'map); remove auxiliary_head from the model config')
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
            raise ValueError(f'{name} needs a 1-channel (sigmoid) decode head, got '
                             f'out_channels={self.decode_head.out_channels}')
        self.require_bank = bool(require_bank)
        self.pseudo_label_field = pseudo_label_field
        #: the label bank, attached by OLRHook (not a module, not saved in the state dict)
        self.olr_bank = None
        #: lambda of Eq. 14 for the current epoch, set by OLRHook (1 = no update)
        self.olr_lambda = 1.0

    @property
    def ignore_index(self) -> int:
        """The decode head's ``ignore_index`` (255 by default)."""
        return int(getattr(self.decode_head, 'ignore_index', 255))

    # ------------------------------------------------------------------------------------------
    def _packed_pseudo_labels(self, inputs: Tensor, data_samples: SampleList) -> Tensor:
        """(B, 1, H, W) float pseudo labels as packed (sample orientation)."""
        size = tuple(inputs.shape[-2:])
        name = type(self).__name__
        labels = []
        for s in data_samples:
            img = s.metainfo.get('img_path', '<no img_path in metainfo>')
            if self.pseudo_label_field not in s:
                raise ValueError(
                    f'{name}: training sample {img} has no {self.pseudo_label_field}; add '
                    f'pseudo_label_path to the dataset\'s data_prefix (docs/en/conventions.md)')
            data = getattr(s, self.pseudo_label_field).data
            if data.dim() != 3 or data.shape[0] != 1 or tuple(data.shape[-2:]) != size:
                raise ValueError(
                    f'{name}: {self.pseudo_label_field} of {img} has shape {tuple(data.shape)}, '
                    f'expected (1, {size[0]}, {size[1]}) (the input size): the train pipeline '
                    f'must resize every image to one fixed size')
            labels.append(data.float())
        return torch.stack(labels).to(inputs.device)

    @staticmethod
    def _flips(data_samples: SampleList) -> List[Tuple[bool, Optional[str]]]:
        return [(bool(s.metainfo.get('flip', False)), s.metainfo.get('flip_direction'))
                for s in data_samples]

    def _bank_targets(self, inputs: Tensor,
                      data_samples: SampleList) -> Tuple[Optional[np.ndarray], Tensor, Tensor]:
        """Targets from the bank (initialising unseen rows); returns ``(rows, target, valid)``.

        ``target`` (B, 1, H, W) float in the samples' orientation with ``ignore_index`` on
        invalid pixels; ``valid`` (B, 1, H, W) bool; ``rows`` is None without a bank.
        """
        packed = self._packed_pseudo_labels(inputs, data_samples)
        valid = (packed >= 0) & (packed <= 1)
        bank = self.olr_bank
        if bank is None:
            if self.require_bank:
                raise ValueError(
                    f'{type(self).__name__}: no OLR label bank attached; add '
                    f'dict(type="OLRHook") to custom_hooks (or set require_bank=False to train '
                    f'on the fixed pseudo labels)')
            return None, torch.where(valid, packed, torch.full_like(packed, self.ignore_index)), \
                valid
        size = tuple(inputs.shape[-2:])
        if tuple(bank.shape) != size:
            raise ValueError(f'{type(self).__name__}: the OLR bank stores {tuple(bank.shape)} '
                             f'maps but the training input is {size}; set OLRHook(resolution=...) '
                             f'to the train pipeline\'s fixed size')
        rows = bank.rows_of([s.metainfo.get('img_path') for s in data_samples])
        flips = self._flips(data_samples)
        fresh = ~bank.is_initialised(rows)
        if fresh.any():
            idx = np.flatnonzero(fresh)
            init = torch.stack([flip_map(packed[i, 0], *flips[i]) for i in idx])
            bank.init_rows(rows[idx], init.cpu().numpy())
        stored = torch.from_numpy(bank.read(rows)).to(device=inputs.device, dtype=packed.dtype)
        stored = torch.stack([flip_map(stored[i], *flips[i]) for i in range(len(rows))])[:, None]
        valid = valid & (stored >= 0) & (stored <= 1)
        target = torch.where(valid, stored, torch.full_like(stored, self.ignore_index))
        return rows, target, valid

    def _update_bank(self, rows: Optional[np.ndarray], seg_logits: Tensor, valid: Tensor,
                     data_samples: SampleList) -> None:
        """Eq. 14 on the batch's rows: G <- lambda G + (1 - lambda) Y on the valid pixels."""
        lam = float(self.olr_lambda)
        if rows is None or lam >= 1.0:
            return
        size = valid.shape[-2:]
        with torch.no_grad():
            logits = seg_logits.detach()
            if logits.shape[-2:] != size:
                logits = F.interpolate(
                    logits.float(), size=size, mode='bilinear', align_corners=self.align_corners)
            prob = logits.float().sigmoid()
            flips = self._flips(data_samples)
            y = torch.stack([flip_map(prob[i, 0], *flips[i]) for i in range(len(rows))])
            mask = torch.stack([flip_map(valid[i, 0], *flips[i]) for i in range(len(rows))])
        self.olr_bank.update(rows, y.cpu().numpy(), lam, mask.cpu().numpy())

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses on the bank's soft labels, then the OLR update (see the class docstring).

        Args:
            inputs (Tensor): (B, C, H, W) normalised images.
            data_samples (list[SegDataSample]): with ``gt_pseudo_label`` (1, H, W) float and
                the metainfo ``img_path``, ``flip``, ``flip_direction``.

        Returns:
            dict[str, Tensor]: the decode head's losses prefixed ``decode.`` (for RAMHead:
            ``decode.loss_ce``/``decode.loss_bce``, ``decode.loss_ssim``, ``decode.loss_iou``,
            ``decode.acc_seg``).
        """
        x = self.extract_feat(inputs)
        seg_logits = self.decode_head.forward(x)
        rows, target, valid = self._bank_targets(inputs, data_samples)
        for s, t in zip(data_samples, target):
            s.gt_sem_seg = PixelData(data=t)
        losses = add_prefix(self.decode_head.loss_by_feat(seg_logits, data_samples), 'decode')
        self._update_bank(rows, seg_logits, valid, data_samples)
        return losses

    def extra_repr(self) -> str:
        return f'require_bank={self.require_bank}, olr_lambda={self.olr_lambda}'
