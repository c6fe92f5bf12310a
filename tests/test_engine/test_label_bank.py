"""OLRLabelBank: the memory-mapped soft-label bank of A2S Online Label Rectification (Zhou et al.,
TCSVT 2023, Eq. 14): row updates with a mask, errors, snapshots with CRC-32 checks, embedded
state."""
import os.path as osp

import numpy as np
import pytest
import torch

from dbdseg.engine import OLRLabelBank

H = W = 32
PATHS = [f'/data/img_{i}.jpg' for i in range(4)]


def _bank(tmp_path, name='bank', paths=PATHS):
    return OLRLabelBank(str(tmp_path / name), paths, H, W, mode='create')


def _rand(seed, shape=(H, W)):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_bank_update_rows_and_mask(tmp_path):
    bank = _bank(tmp_path)
    g = np.stack([_rand(i).numpy() for i in range(4)])
    bank.init_rows(np.arange(4), g)
    assert bank.is_initialised(np.arange(4)).all()
    y = np.stack([_rand(10), _rand(11)]).astype(np.float32)
    mask = np.ones_like(y, dtype=bool)
    mask[1, :5] = False
    bank.update(np.array([2, 0]), y, 0.4, mask)
    out = bank.read(np.arange(4))
    np.testing.assert_array_equal(out[1], g[1])  # untouched rows
    np.testing.assert_array_equal(out[3], g[3])
    np.testing.assert_allclose(out[2], 0.4 * g[2] + 0.6 * y[0], atol=1e-7)
    np.testing.assert_allclose(out[0, 5:], 0.4 * g[0, 5:] + 0.6 * y[1, 5:], atol=1e-7)
    np.testing.assert_array_equal(out[0, :5], g[0, :5])  # masked pixels untouched
    # the file holds it (memory-mapped .npy)
    reopened = OLRLabelBank(str(tmp_path / 'bank'), PATHS, H, W, mode='open')
    np.testing.assert_array_equal(reopened.read(np.arange(4)), out)
    labels = np.load(osp.join(str(tmp_path / 'bank'), 'labels.npy'), mmap_mode='r')
    assert labels.shape == (4, H, W)


def test_bank_errors(tmp_path):
    bank = _bank(tmp_path)
    with pytest.raises(ValueError, match='not in the label bank'):
        bank.rows_of(['/data/other.jpg'])
    with pytest.raises(ValueError, match='twice'):
        OLRLabelBank(str(tmp_path / 'b2'), PATHS + PATHS[:1], H, W)
    with pytest.raises(ValueError, match='lambda'):
        bank.update(np.array([0]), np.zeros((1, H, W)), 1.5)
    with pytest.raises(ValueError, match='expected'):
        bank.update(np.array([0]), np.zeros((1, H, 3)), 0.5)
    with pytest.raises(ValueError, match='expected'):
        OLRLabelBank(str(tmp_path / 'bank'), PATHS, H, W + 1, mode='open')
    with pytest.raises(FileNotFoundError):
        OLRLabelBank(str(tmp_path / 'none'), PATHS, H, W, mode='open')


def test_bank_snapshot_restore_and_checks(tmp_path):
    bank = _bank(tmp_path)
    g = np.stack([_rand(i).numpy() for i in range(4)])
    bank.init_rows(np.arange(4), g)
    info = bank.snapshot(str(tmp_path / 'snap'))
    bank.update(np.arange(4), np.zeros((4, H, W), np.float32), 0.0)  # training goes on
    assert bank.read([0]).max() == 0
    bank.restore(str(tmp_path / 'snap'), info)
    np.testing.assert_array_equal(bank.read(np.arange(4)), g)
    # a changed snapshot is refused (CRC-32), a bank of other images too
    arr = np.load(str(tmp_path / 'snap' / 'labels.npy'), mmap_mode='r+')
    arr[0, 0, 0] += 0.5
    arr.flush()
    del arr
    with pytest.raises(ValueError, match='CRC-32'):
        bank.restore(str(tmp_path / 'snap'), info)
    other = OLRLabelBank(str(tmp_path / 'other'), PATHS[::-1], H, W)
    with pytest.raises(ValueError, match='different training set'):
        other.restore(str(tmp_path / 'snap'), info, verify=False)
    # embedded state round trip
    state = bank.state()
    assert isinstance(state['labels'], torch.Tensor) and state['labels'].shape == (4, H, W)
    fresh = OLRLabelBank(str(tmp_path / 'fresh'), PATHS, H, W)
    fresh.load_state(state)
    np.testing.assert_array_equal(fresh.read(np.arange(4)), bank.read(np.arange(4)))
