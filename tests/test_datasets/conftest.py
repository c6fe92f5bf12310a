"""Helpers for the data tests: tiny images, masks and extra maps written into ``tmp_path``."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope


def write(path, arr):
    """Write ``arr`` with OpenCV (creating folders); PNG keeps uint8/uint16 and channels exactly."""
    path = str(path)
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr), path
    return path


def coord_image(h, w):
    """(h, w, 3) uint8 image whose pixels encode their position: B = x, G = y, R = 7."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
    img[..., 2] = 7
    return img


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Dataset pipelines resolve transform names in the default scope, as the runner sets it."""
    init_default_scope('mmseg')


@pytest.fixture
def make_folder_dataset(tmp_path):
    """Write ``root/images/<stem>.jpg`` and ``root/masks/<stem>.png`` (0/255) for ``stems``."""

    def _make(stems, h=6, w=8, root=None, img_suffix='.jpg', mask_suffix='.png'):
        root = tmp_path / 'data' if root is None else root
        for i, stem in enumerate(stems):
            img = np.full((h, w, 3), 40 + i, np.uint8)
            mask = np.zeros((h, w), np.uint8)
            mask[:, :w // 2] = 255
            write(root / 'images' / f'{stem}{img_suffix}', img)
            write(root / 'masks' / f'{stem}{mask_suffix}', mask)
        return root

    return _make


@pytest.fixture
def helpers():
    """Module-level helpers as a fixture (keeps test files free of conftest imports)."""

    class _H:
        pass

    _H.write = staticmethod(write)
    _H.coord_image = staticmethod(coord_image)
    return _H
