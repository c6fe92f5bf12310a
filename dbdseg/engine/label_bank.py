"""Disk-backed bank of per-image soft labels for A2S Online Label Rectification (OLR).

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 14: each training image's label is replaced after
every iteration by a mix of itself and the prediction, so the labels must live across epochs. The
authors' code keeps them on the GPU; dbdseg keeps them in memory-mapped files (dbdseg's choice),
so that the bank never needs to fit in memory and DDP ranks on one machine share it.

The bank is not a hook: :class:`~dbdseg.engine.hooks.OLRHook` creates, snapshots and restores it
(lifecycle) and :class:`~dbdseg.models.segmentors.OLREncoderDecoder` reads and updates it.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import zlib
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['OLRLabelBank', 'file_crc32', 'paths_digest']

LABELS_FILE = 'labels.npy'
INIT_FILE = 'initialised.npy'
INDEX_FILE = 'index.json'


def file_crc32(path: str, chunk: int = 1 << 24) -> int:
    """CRC-32 of a file's bytes (read in 16 MiB chunks).

    Returns:
        int: the checksum, 0..2^32-1.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    crc = 0
    with open(path, 'rb') as f:
        while True:
            block = f.read(chunk)
            if not block:
                return crc & 0xFFFFFFFF
            crc = zlib.crc32(block, crc)


def paths_digest(img_paths: Sequence[str]) -> str:
    """SHA-256 (hex) of the ordered image paths: identifies which row holds which image."""
    h = hashlib.sha256()
    for p in img_paths:
        h.update(str(p).encode('utf-8'))
        h.update(b'\0')
    return h.hexdigest()


class OLRLabelBank:
    """Float soft labels, one (H, W) map per training image, in memory-mapped ``.npy`` files.

    Files in ``bank_dir``:

    * ``labels.npy``: (N, H, W) float32, row i = G of image ``img_paths[i]`` at the training
      resolution, in the image's original orientation (no flip), values in [0, 1] (a value
      outside [0, 1], e.g. 255 copied from a padded pseudo label, marks an ignored pixel);
    * ``initialised.npy``: (N,) uint8, 1 once the row was filled from the image's pseudo label;
    * ``index.json``: ``img_paths``, ``height``, ``width`` and their digest.

    The arrays are ``np.lib.format.open_memmap`` views, so the bank never needs to fit in memory
    (3,000 images at 320 x 320 take 1.2 GB on disk) and several processes on one machine (DDP
    ranks, each writing only the rows of its own samples) share it through the page cache.

    Args:
        bank_dir (str): folder of the three files.
        img_paths (Sequence[str]): image path of each row (unique).
        height, width (int): map size (the training resolution).
        mode (str): 'create' (new zero-filled files, replacing any old ones) or 'open'
            (existing files; ``img_paths`` and size must match ``index.json``).

    Raises:
        ValueError: duplicate or empty ``img_paths``, a non-positive size, an unknown mode, or
            (mode 'open') files that do not match the given paths/size.
        FileNotFoundError: mode 'open' and a file is missing.
    """

    def __init__(self,
                 bank_dir: str,
                 img_paths: Sequence[str],
                 height: int,
                 width: int,
                 mode: str = 'create'):
        img_paths = [str(p) for p in img_paths]
        if not img_paths:
            raise ValueError('OLRLabelBank: no images (empty img_paths)')
        if int(height) < 1 or int(width) < 1:
            raise ValueError(f'OLRLabelBank: size must be positive, got {height} x {width}')
        self.bank_dir = str(bank_dir)
        self.img_paths = img_paths
        self.height, self.width = int(height), int(width)
        self._rows: Dict[str, int] = {}
        for i, p in enumerate(img_paths):
            if p in self._rows:
                raise ValueError(f'OLRLabelBank: image {p!r} appears twice in the training set '
                                 f'(rows {self._rows[p]} and {i}); one bank row per image')
            self._rows[p] = i
        self.digest = paths_digest(img_paths)
        n = len(img_paths)
        labels_path, init_path = self.labels_path, self.init_path
        if mode == 'create':
            os.makedirs(self.bank_dir, exist_ok=True)
            self.labels = np.lib.format.open_memmap(
                labels_path, mode='w+', dtype=np.float32, shape=(n, self.height, self.width))
            self.initialised = np.lib.format.open_memmap(
                init_path, mode='w+', dtype=np.uint8, shape=(n, ))
            with open(osp.join(self.bank_dir, INDEX_FILE), 'w') as f:
                json.dump(
                    dict(
                        height=self.height,
                        width=self.width,
                        digest=self.digest,
                        img_paths=img_paths), f)
            self.flush()
        elif mode == 'open':
            for path in (labels_path, init_path):
                if not osp.isfile(path):
                    raise FileNotFoundError(f'OLRLabelBank: missing bank file {path!r}')
            self.labels = np.lib.format.open_memmap(labels_path, mode='r+')
            self.initialised = np.lib.format.open_memmap(init_path, mode='r+')
            if self.labels.shape != (n, self.height, self.width) or \
                    self.labels.dtype != np.float32 or self.initialised.shape != (n, ):
                raise ValueError(f'OLRLabelBank: {labels_path!r} holds {self.labels.shape} '
                                 f'{self.labels.dtype}, expected ({n}, {self.height}, '
                                 f'{self.width}) float32')
        else:
            raise ValueError(f"OLRLabelBank: mode must be 'create' or 'open', got {mode!r}")

    # ------------------------------------------------------------------ files
    @property
    def labels_path(self) -> str:
        return osp.join(self.bank_dir, LABELS_FILE)

    @property
    def init_path(self) -> str:
        return osp.join(self.bank_dir, INIT_FILE)

    @property
    def shape(self):
        """(H, W) of each stored map."""
        return (self.height, self.width)

    def __len__(self) -> int:
        return len(self.img_paths)

    def flush(self) -> None:
        """Write the memory-mapped pages to disk."""
        self.labels.flush()
        self.initialised.flush()

    # ------------------------------------------------------------------ rows
    def rows_of(self, img_paths: Sequence[str]) -> np.ndarray:
        """Row index of each image path.

        Returns:
            np.ndarray: (B,) int64.

        Raises:
            ValueError: an image that is not in the bank (names it).
        """
        rows = []
        for p in img_paths:
            row = self._rows.get(str(p))
            if row is None:
                raise ValueError(f'OLRLabelBank: image {p!r} is not in the label bank '
                                 f'({len(self)} training images); the bank is built from the '
                                 f'train dataloader\'s dataset')
            rows.append(row)
        return np.asarray(rows, dtype=np.int64)

    def is_initialised(self, rows: np.ndarray) -> np.ndarray:
        """(B,) bool: whether each row was filled from its pseudo label."""
        return self.initialised[np.asarray(rows)] != 0

    def init_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Fill rows with their initial labels (G^1 = G) and mark them initialised.

        Args:
            rows (np.ndarray): (K,) row indices.
            values (np.ndarray): (K, H, W) float maps in the original orientation.
        """
        rows = np.asarray(rows)
        values = np.asarray(values, dtype=np.float32)
        self._check_values(rows, values)
        self.labels[rows] = values
        self.initialised[rows] = 1

    def read(self, rows: np.ndarray) -> np.ndarray:
        """(B, H, W) float32 copy of the rows."""
        return np.array(self.labels[np.asarray(rows)], dtype=np.float32)

    def update(self,
               rows: np.ndarray,
               y: np.ndarray,
               lam: float,
               mask: Optional[np.ndarray] = None) -> None:
        """Eq. 14 on some rows: ``G <- lam * G + (1 - lam) * y`` where ``mask``, G elsewhere.

        Args:
            rows (np.ndarray): (B,) row indices (distinct).
            y (np.ndarray): (B, H, W) predictions in [0, 1], original orientation.
            lam (float): lambda of Eq. 14, in [0, 1].
            mask (np.ndarray, optional): (B, H, W) bool, pixels to update (default: all).

        Raises:
            ValueError: ``lam`` outside [0, 1] or shapes that do not match.
        """
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f'OLRLabelBank.update: lambda must be in [0, 1], got {lam}')
        rows = np.asarray(rows)
        y = np.asarray(y, dtype=np.float32)
        self._check_values(rows, y)
        g = self.read(rows)
        new = np.float32(lam) * g + np.float32(1.0 - lam) * y
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != y.shape:
                raise ValueError(f'OLRLabelBank.update: mask {mask.shape} does not match '
                                 f'{y.shape}')
            new = np.where(mask, new, g)
        self.labels[rows] = new

    def _check_values(self, rows: np.ndarray, values: np.ndarray) -> None:
        if values.shape != (len(rows), self.height, self.width):
            raise ValueError(f'OLRLabelBank: got maps {values.shape} for {len(rows)} rows, '
                             f'expected ({len(rows)}, {self.height}, {self.width})')

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, dest_dir: str) -> dict:
        """Copy the bank files into ``dest_dir`` (flushed first); return their description.

        Returns:
            dict: ``num_images``, ``height``, ``width``, ``digest`` (of the image paths),
            ``labels_crc32``, ``initialised_crc32`` and ``snapshot_dir`` (absolute).
        """
        self.flush()
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copyfile(self.labels_path, osp.join(dest_dir, LABELS_FILE))
        shutil.copyfile(self.init_path, osp.join(dest_dir, INIT_FILE))
        shutil.copyfile(osp.join(self.bank_dir, INDEX_FILE), osp.join(dest_dir, INDEX_FILE))
        return dict(
            num_images=len(self),
            height=self.height,
            width=self.width,
            digest=self.digest,
            labels_crc32=file_crc32(osp.join(dest_dir, LABELS_FILE)),
            initialised_crc32=file_crc32(osp.join(dest_dir, INIT_FILE)),
            snapshot_dir=osp.abspath(dest_dir))

    def check_description(self, info: dict, what: str = 'checkpoint') -> None:
        """Raise ValueError when ``info`` (from :meth:`snapshot`/:meth:`state`) describes a bank
        of other images or another size than this one."""
        if info.get('digest') != self.digest or int(info.get('num_images', -1)) != len(self):
            raise ValueError(
                f'OLRLabelBank: the bank stored with the {what} is for a different training set '
                f'({info.get("num_images")} images, digest {str(info.get("digest"))[:12]}...) '
                f'than the current one ({len(self)} images, digest {self.digest[:12]}...); '
                f'resume with the same train dataset')
        if (int(info.get('height', -1)), int(info.get('width', -1))) != self.shape:
            raise ValueError(f'OLRLabelBank: the {what} stores {info.get("height")} x '
                             f'{info.get("width")} maps, the current bank {self.height} x '
                             f'{self.width}')

    def restore(self,
                src_dir: str,
                info: Optional[dict] = None,
                verify: bool = True,
                chunk_rows: int = 256) -> None:
        """Copy a snapshot's contents into this (live) bank.

        Args:
            src_dir (str): folder written by :meth:`snapshot`.
            info (dict, optional): the description returned by :meth:`snapshot`, checked
                against this bank (images, size) and, with ``verify``, the files' CRC-32.
            verify (bool): check the CRC-32 of the snapshot files. Defaults to True.
            chunk_rows (int): rows copied at a time. Defaults to 256.

        Raises:
            FileNotFoundError: a snapshot file is missing.
            ValueError: the snapshot does not match this bank, or a checksum differs (the
                snapshot was changed after the checkpoint was written).
        """
        labels_file, init_file = osp.join(src_dir, LABELS_FILE), osp.join(src_dir, INIT_FILE)
        for path in (labels_file, init_file):
            if not osp.isfile(path):
                raise FileNotFoundError(f'OLRLabelBank: snapshot file {path!r} is missing')
        if info is not None:
            self.check_description(info, 'snapshot')
            if verify:
                for path, key in ((labels_file, 'labels_crc32'), (init_file, 'initialised_crc32')):
                    crc = file_crc32(path)
                    if crc != info.get(key):
                        raise ValueError(
                            f'OLRLabelBank: snapshot file {path!r} has CRC-32 {crc}, the '
                            f'checkpoint recorded {info.get(key)}: it was overwritten after the '
                            f'checkpoint was saved (e.g. by a new run in the same work_dir)')
        labels = np.load(labels_file, mmap_mode='r')
        init = np.load(init_file, mmap_mode='r')
        if labels.shape != self.labels.shape or init.shape != self.initialised.shape:
            raise ValueError(f'OLRLabelBank: snapshot {src_dir!r} holds {labels.shape}, the '
                             f'bank {self.labels.shape}')
        for start in range(0, len(self), chunk_rows):
            self.labels[start:start + chunk_rows] = labels[start:start + chunk_rows]
        self.initialised[:] = init
        self.flush()

    def state(self) -> dict:
        """The whole bank as CPU tensors for embedding in a checkpoint (small sets only).

        Returns:
            dict: description keys as :meth:`snapshot` plus ``labels`` ((N, H, W) float32
            tensor) and ``initialised`` ((N,) uint8 tensor).
        """
        import torch
        self.flush()
        return dict(
            num_images=len(self),
            height=self.height,
            width=self.width,
            digest=self.digest,
            labels=torch.from_numpy(np.array(self.labels)),
            initialised=torch.from_numpy(np.array(self.initialised)))

    def load_state(self, state: dict) -> None:
        """Inverse of :meth:`state`. Raises ValueError when the state is for other images."""
        self.check_description(state)
        self.labels[:] = np.asarray(state['labels'].cpu().numpy(), dtype=np.float32)
        self.initialised[:] = np.asarray(state['initialised'].cpu().numpy(), dtype=np.uint8)
        self.flush()
