"""Tests of SRFBNeck (one SRFB per level, resolution kept)."""
import pytest
import torch

from dbdseg.models.necks import SRFBNeck
from dbdseg.models.utils import RFB, SRFB
from dbdseg.registry import MODELS

RESNET18 = (64, 64, 128, 256, 512)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def features(channels=RESNET18, size=64, n=2):
    return tuple(
        torch.randn(n, c, size // 2**(i + 1), size // 2**(i + 1)) for i, c in enumerate(channels))


def test_neck_keeps_resolution_and_changes_widths():
    neck = MODELS.build(dict(type='SRFBNeck', in_channels=RESNET18, out_channels=32)).eval()
    feats = features()
    outs = neck(feats)
    assert len(outs) == 5
    for f, o in zip(feats, outs):
        assert o.shape == (2, 32, f.shape[2], f.shape[3])
    assert all(isinstance(b, SRFB) and b.scale_factor == 1 for b in neck.blocks)
    assert [b.inner_channels for b in neck.blocks] == [16, 16, 32, 64, 128]
    # each level is its own block: the output of level i depends on input i only
    outs2 = neck((feats[0] + 1.0, ) + feats[1:])
    assert not torch.allclose(outs2[0], outs[0])
    assert all(torch.allclose(a, b) for a, b in zip(outs2[1:], outs[1:]))


def test_neck_per_level_widths_in_index_and_block_type():
    neck = SRFBNeck(
        in_channels=(128, 512),
        out_channels=(8, 16),
        in_index=(2, 4),
        block_cfg=dict(type='RFB', merge='sum')).eval()
    outs = neck(features())
    assert [o.shape for o in outs] == [(2, 8, 8, 8), (2, 16, 2, 2)]
    assert all(isinstance(b, RFB) for b in neck.blocks)
    # trains: every parameter gets a gradient
    neck.train()
    loss = sum(o.sum() for o in neck(features()))
    loss.backward()
    assert all(p.grad is not None for p in neck.parameters())


def test_neck_errors():
    with pytest.raises(ValueError, match='one width per level'):
        SRFBNeck(in_channels=(64, 64), out_channels=(8, 8, 8))
    with pytest.raises(ValueError, match='in_index'):
        SRFBNeck(in_channels=(64, 64), out_channels=8, in_index=(0, ))
    with pytest.raises(ValueError, match='empty'):
        SRFBNeck(in_channels=(), out_channels=8)
    neck = SRFBNeck(in_channels=(64, 128), out_channels=8)
    with pytest.raises(ValueError, match=r'input level 1 must be \(N, 128, H, W\)'):
        neck(features((64, 64)))
    with pytest.raises(ValueError, match='needs more'):
        neck(features((64, )))
