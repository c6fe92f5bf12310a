"""OLRHook: lifecycle and lambda schedule of the A2S Online Label Rectification bank.

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 14: G^(j+1) = lambda G^j + (1 - lambda) Y^j,
G^1 = the stage-1 pseudo labels, lambda = 1 for the first two epochs and 0.4 afterwards. The
bank itself is :class:`dbdseg.engine.label_bank.OLRLabelBank`.
"""
import os
import os.path as osp
import random
import re
import shutil
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.dist import barrier, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from dbdseg.engine.label_bank import OLRLabelBank
from dbdseg.registry import HOOKS

__all__ = ['OLRHook']

_SNAPSHOT_RE = re.compile(r'^epoch_(\d+)_iter_(\d+)$')
_MODES = ('snapshot', 'embed')


@HOOKS.register_module()
class OLRHook(Hook):
    """Creates the OLR label bank, sets lambda per epoch, saves and restores the bank.

    * ``before_train``: builds an :class:`~dbdseg.engine.label_bank.OLRLabelBank` with one
      row per image of the train dataloader's dataset (keyed by ``img_path``, so a
      ``ConcatDataset`` of several folders works), at ``resolution`` (default: the size of
      ``dataset[0]['inputs']``, i.e. the train pipeline's fixed size), in
      ``<bank_dir>/live/`` (default ``bank_dir``: ``<work_dir>/olr_bank``), and attaches it to the
      model (``model.olr_bank``; the model must be an
      :class:`~dbdseg.models.segmentors.OLREncoderDecoder`). Rows start empty and are filled
      from each image's pseudo label the first time the image is seen (G^1 = G).
    * ``before_train_epoch``: ``model.olr_lambda = warmup_lam`` for the first ``warmup_epochs``
      epochs, ``lam`` afterwards (Eq. 14; paper: 1 for two epochs, then 0.4).
    * Resume. The bank is part of the training state, and must match the checkpoint even if
      training went on past it (the live file then holds later labels). dbdseg's choice:
      ``checkpoint_mode='snapshot'`` (default): ``before_save_checkpoint`` copies the live bank
      into ``<bank_dir>/snapshots/epoch_<E>_iter_<I>/`` and records that name, the images'
      digest and the files' CRC-32 in ``checkpoint['olr_bank']`` (the checkpoint stays small;
      the copy is frozen); on resume the snapshot named by the checkpoint is copied back into
      the live bank, after checking that it is for the same images and unchanged (CRC-32).
      The ``max_keep_snapshots`` newest snapshots are kept. ``checkpoint_mode='embed'`` stores
      the whole bank as tensors in the checkpoint instead (self-contained; N x H x W x 4 bytes,
      so only for small sets). Either way a checkpoint loaded with ``load_from`` (fine-tuning,
      epoch 0) does not restore the bank: only a resumed run (epoch or iteration > 0) does.
    * ``after_train_epoch`` (lowest priority, after ``CheckpointHook``): flushes the bank and,
      with several processes, waits for all ranks, so that no rank writes next epoch's labels
      while rank 0 copies the snapshot. Checkpoints saved every few *iterations* under DDP are
      not synchronised this way (the bank may then hold a few later rows); save by epoch.

    Distributed training: rank 0 creates (and restores) the bank, the other ranks open the same
    files after a barrier, and each rank writes only the rows of its own samples. The work dir
    must therefore be on one machine or a shared file system that supports memory mapping.

    Args:
        warmup_epochs (int): number of first epochs with ``warmup_lam`` (>= 0). Defaults to 2.
        lam (float): lambda of Eq. 14 after the warm-up, in [0, 1]. Defaults to 0.4 (Table VI).
        warmup_lam (float): lambda during the warm-up, in [0, 1]. Defaults to 1.0 (no update).
        resolution (Sequence[int], optional): (H, W) of the stored maps; None: from the first
            training sample. Defaults to None.
        bank_dir (str, optional): folder of the bank; None: ``<work_dir>/olr_bank``.
        checkpoint_mode (str): 'snapshot' or 'embed' (see above). Defaults to 'snapshot'.
        max_keep_snapshots (int): snapshots kept (newest first); <= 0 keeps all. Defaults to 2.
        verify_snapshot (bool): check the snapshot's CRC-32 on resume. Defaults to True.
        reinit_on_missing (bool): on resume from a checkpoint without a bank (or whose snapshot
            is gone), start again from the pseudo labels with a warning instead of raising.
            Defaults to False.

    Raises:
        ValueError: invalid arguments; at ``before_train``, a train loop that is not
            epoch-based (lambda is scheduled per epoch), a model without an OLR bank slot, or
            (resume) a checkpoint bank for other images or of another size, or a changed
            snapshot.
        FileNotFoundError: (resume) the snapshot named by the checkpoint is missing and
            ``reinit_on_missing`` is False.
    """

    priority = 'LOWEST'

    def __init__(self,
                 warmup_epochs: int = 2,
                 lam: float = 0.4,
                 warmup_lam: float = 1.0,
                 resolution: Optional[Sequence[int]] = None,
                 bank_dir: Optional[str] = None,
                 checkpoint_mode: str = 'snapshot',
                 max_keep_snapshots: int = 2,
                 verify_snapshot: bool = True,
                 reinit_on_missing: bool = False):
        if int(warmup_epochs) != warmup_epochs or warmup_epochs < 0:
            raise ValueError(f'OLRHook: warmup_epochs must be an integer >= 0, got '
                             f'{warmup_epochs!r}')
        for name, value in (('lam', lam), ('warmup_lam', warmup_lam)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f'OLRHook: {name} must be in [0, 1], got {value!r}')
        if checkpoint_mode not in _MODES:
            raise ValueError(f'OLRHook: checkpoint_mode must be one of {_MODES}, got '
                             f'{checkpoint_mode!r}')
        if resolution is not None:
            resolution = tuple(int(v) for v in resolution)
            if len(resolution) != 2 or min(resolution) < 1:
                raise ValueError(f'OLRHook: resolution must be (H, W) > 0, got {resolution!r}')
        self.warmup_epochs = int(warmup_epochs)
        self.lam = float(lam)
        self.warmup_lam = float(warmup_lam)
        self.resolution = resolution
        self.bank_dir = bank_dir
        self.checkpoint_mode = checkpoint_mode
        self.max_keep_snapshots = int(max_keep_snapshots)
        self.verify_snapshot = bool(verify_snapshot)
        self.reinit_on_missing = bool(reinit_on_missing)
        self.bank: Optional[OLRLabelBank] = None
        self._loaded_state: Optional[dict] = None
        self._bank_root: Optional[str] = None

    # ------------------------------------------------------------------ schedule
    def lambda_at(self, epoch: int) -> float:
        """lambda of Eq. 14 for a 0-based epoch (``runner.epoch`` during that epoch)."""
        return self.warmup_lam if epoch < self.warmup_epochs else self.lam

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'olr_bank') or not hasattr(model, 'olr_lambda'):
            raise ValueError(f'OLRHook needs a model with an OLR label bank '
                             f'(OLREncoderDecoder), got {type(model).__name__}')
        return model

    def _resolution(self, dataset):
        if self.resolution is not None:
            return self.resolution
        # the pipeline draws random numbers (flips): keep the training stream unchanged
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()
        try:
            sample = dataset[0]
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])
        inputs = sample['inputs'] if isinstance(sample, dict) else None
        if inputs is None or inputs.dim() != 3:
            raise ValueError('OLRHook: cannot infer the training resolution from the first '
                             'training sample; set OLRHook(resolution=(H, W))')
        return tuple(int(v) for v in inputs.shape[-2:])

    def _snapshot_dir(self, name: str) -> str:
        return osp.join(self._bank_root, 'snapshots', name)

    def _restore(self, runner, bank: OLRLabelBank) -> None:
        state = self._loaded_state
        if state is None:
            msg = ('OLRHook: resuming from a checkpoint that holds no OLR label bank (saved '
                   'without OLRHook?)')
            if not self.reinit_on_missing:
                raise ValueError(msg + '; set OLRHook(reinit_on_missing=True) to start again '
                                 'from the pseudo labels')
            runner.logger.warning(msg + ': the bank starts again from the pseudo labels')
            return
        if state.get('mode') == 'embed':
            bank.load_state(state)
            runner.logger.info('OLRHook: label bank restored from the checkpoint')
            return
        candidates = [self._snapshot_dir(state.get('name', '')), state.get('snapshot_dir', '')]
        src = next((c for c in candidates if c and osp.isfile(osp.join(c, 'labels.npy'))), None)
        if src is None:
            msg = (f'OLRHook: the label-bank snapshot of the resumed checkpoint is missing '
                   f'(looked in {[c for c in candidates if c]})')
            if not self.reinit_on_missing:
                raise FileNotFoundError(msg + '; set OLRHook(reinit_on_missing=True) to start '
                                        'again from the pseudo labels')
            runner.logger.warning(msg + ': the bank starts again from the pseudo labels')
            return
        bank.restore(src, state, verify=self.verify_snapshot)
        runner.logger.info(f'OLRHook: label bank restored from {src}')

    def _prune_snapshots(self) -> None:
        if self.max_keep_snapshots <= 0:
            return
        root = osp.join(self._bank_root, 'snapshots')
        found = []
        for name in (os.listdir(root) if osp.isdir(root) else []):
            m = _SNAPSHOT_RE.match(name)
            if m:
                found.append((int(m.group(2)), int(m.group(1)), name))
        for _, _, name in sorted(found)[:-self.max_keep_snapshots]:
            shutil.rmtree(osp.join(root, name), ignore_errors=True)

    # ------------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        """Create (rank 0) / open the bank, restore it on resume, attach it to the model."""
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ValueError(f'OLRHook schedules lambda per epoch (A2S Eq. 14) and needs '
                             f'EpochBasedTrainLoop, got {type(runner.train_loop).__name__}')
        model = self._model(runner)
        dataset = runner.train_dataloader.dataset
        img_paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
        height, width = self._resolution(dataset)
        self._bank_root = self.bank_dir or osp.join(runner.work_dir, 'olr_bank')
        live = osp.join(self._bank_root, 'live')
        resumed = runner.epoch > 0 or runner.iter > 0
        world = get_world_size()
        if is_main_process():
            bank = OLRLabelBank(live, img_paths, height, width, mode='create')
            if resumed:
                self._restore(runner, bank)
            elif self._loaded_state is not None:
                runner.logger.info('OLRHook: the loaded checkpoint\'s label bank is not used '
                                   '(load_from starts a new training; only resume restores it)')
        if world > 1:
            barrier()
        if not is_main_process():
            bank = OLRLabelBank(live, img_paths, height, width, mode='open')
        self._loaded_state = None
        self.bank = bank
        model.olr_bank = bank
        runner.logger.info(f'OLRHook: label bank of {len(bank)} images at {height} x {width} '
                           f'in {live}')

    def before_train_epoch(self, runner) -> None:
        """Set lambda of Eq. 14 for this epoch."""
        lam = self.lambda_at(runner.epoch)
        self._model(runner).olr_lambda = lam
        runner.logger.info(f'OLRHook: epoch {runner.epoch + 1}: lambda = {lam}')

    def after_train_epoch(self, runner) -> None:
        """Flush the bank; with several ranks, wait until rank 0 has saved its snapshot."""
        if self.bank is not None:
            self.bank.flush()
        if get_world_size() > 1:
            barrier()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the bank in the checkpoint (snapshot reference or embedded tensors)."""
        if self.bank is None:
            return
        meta = checkpoint.get('meta', {})
        name = f'epoch_{meta.get("epoch", runner.epoch)}_iter_{meta.get("iter", runner.iter)}'
        if self.checkpoint_mode == 'embed':
            checkpoint['olr_bank'] = dict(mode='embed', name=name, **self.bank.state())
            return
        info = self.bank.snapshot(self._snapshot_dir(name))
        checkpoint['olr_bank'] = dict(mode='snapshot', name=name, **info)
        self._prune_snapshots()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's bank record; ``before_train`` restores it when resuming."""
        self._loaded_state = checkpoint.get('olr_bank')

    def after_run(self, runner) -> None:
        """Flush the bank at the end."""
        if self.bank is not None:
            self.bank.flush()
