"""AIMSIMNeck: the AFIU encoder (Qian et al., Sec. 3.2) assembled from MINet's AIM / SIM blocks.

The blocks themselves are tested against MINet's computation in
``tests/test_models/test_utils/test_aim_sim_blocks.py``. Parameter counts are those of MINet-Res50.
"""
import pytest
import torch

from dbdseg.models.necks import AIMSIMNeck
from dbdseg.registry import MODELS

R18 = (64, 64, 128, 256, 512)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ the neck
def test_resnet50_widths_match_minet_block_for_block():
    with torch.device('meta'):
        neck = MODELS.build(dict(type='AIMSIMNeck'))
    counts = [sum(p.numel() for p in a.parameters()) for a in neck.aims]
    # MINet_Res50's AIM ``trans.conv0`` .. ``trans.conv4`` (official code,
    # github.com/lartpang/MINet, code/network/MINet.py), counted with random weights
    assert counts == [447872, 903104, 10214400, 40482560, 85674240]
    assert [type(a).__name__ for a in neck.aims] == ['AIM2', 'AIM3', 'AIM3', 'AIM3', 'AIM2']
    assert [a.main for a in (neck.aims[0], neck.aims[4])] == ['high', 'low']
    assert [a.mid_channels for a in neck.aims] == [64, 64, 256, 512, 1024]
    assert [sum(p.numel() for p in s.parameters()) for s in neck.sims] == [194464] * 5
    # fusion [RECON]: 3x3 conv (no bias) 64 -> 64 + BN
    assert [sum(p.numel() for p in f.parameters()) for f in neck.fusions] == [64 * 64 * 9 + 128] * 5


def _pyramid(channels=R18, size=64, n=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [(size + 1) // 2]
    for _ in range(4):
        sizes.append((sizes[-1] + 1) // 2)
    return [torch.randn(n, c, s, s, generator=gen) for c, s in zip(channels, sizes)]


def test_resnet18_reduced_widths_shapes_and_wiring():
    torch.manual_seed(0)
    neck = AIMSIMNeck(
        in_channels=R18,
        aim_channels=8,
        aim_mid_channels=(8, 8, 8, 8, 8),
        sim_low_channels=4,
        out_channels=(6, 6, 6, 6, 10)).eval()
    feats = _pyramid(size=224)  # 112, 56, 28, 14, 7
    with torch.no_grad():
        outs = neck(feats)
        e = feats
        expected = [
            neck.fusions[0](neck.sims[0](neck.aims[0](e[0], e[1]))),
            neck.fusions[1](neck.sims[1](neck.aims[1](e[0], e[1], e[2]))),
            neck.fusions[2](neck.sims[2](neck.aims[2](e[1], e[2], e[3]))),
            neck.fusions[3](neck.sims[3](neck.aims[3](e[2], e[3], e[4]))),
            neck.fusions[4](neck.sims[4](neck.aims[4](e[3], e[4]))),
        ]
    assert [tuple(o.shape) for o in outs] == [(2, 6, 112, 112), (2, 6, 56, 56), (2, 6, 28, 28),
                                              (2, 6, 14, 14), (2, 10, 7, 7)]
    for o, x in zip(outs, expected):
        assert torch.equal(o, x)
    # E3 feeds the AIMs of levels 2-4 only
    feats2 = list(feats)
    feats2[2] = feats2[2] + 1.0
    with torch.no_grad():
        outs2 = neck(feats2)
    assert [torch.equal(a, b) for a, b in zip(outs2, outs)] == [True, False, False, False, True]


def test_odd_input_sizes_and_backward():
    neck = AIMSIMNeck(
        in_channels=R18, aim_channels=4, aim_mid_channels=4, sim_low_channels=2, out_channels=4)
    feats = [f.requires_grad_() for f in _pyramid(size=100, n=2)]  # 50, 25, 13, 7, 4
    outs = neck(feats)
    assert [o.shape[-1] for o in outs] == [50, 25, 13, 7, 4]
    sum(o.mean() for o in outs).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)
    assert all(p.grad is not None for p in neck.parameters())


def test_no_fusion_option():
    neck = AIMSIMNeck(
        in_channels=R18,
        aim_channels=4,
        aim_mid_channels=4,
        sim_low_channels=2,
        out_channels=4,
        fusion_num_convs=0).eval()
    assert all(isinstance(f, torch.nn.Identity) for f in neck.fusions)
    feats = _pyramid(size=64)
    with torch.no_grad():
        assert torch.equal(neck(feats)[2], neck.sims[2](neck.aims[2](*feats[1:4])))
    two = AIMSIMNeck(
        in_channels=R18,
        aim_channels=4,
        aim_mid_channels=4,
        sim_low_channels=2,
        out_channels=5,
        fusion_num_convs=2,
        fusion_kernel_size=1)
    assert len(two.fusions[0]) == 2 and two.fusions[0][1].conv.kernel_size == (1, 1)


def test_errors_are_clear():
    with pytest.raises(ValueError, match='in_channels must list the channels of the 5'):
        AIMSIMNeck(in_channels=(64, 256, 512, 1024))
    with pytest.raises(ValueError, match='aim_channels'):
        AIMSIMNeck(aim_channels=(64, 64))
    with pytest.raises(ValueError, match='out_channels .* must equal aim_channels'):
        AIMSIMNeck(in_channels=R18, aim_mid_channels=4, out_channels=32, fusion_num_convs=0)
    with pytest.raises(ValueError, match='fusion_kernel_size'):
        AIMSIMNeck(in_channels=R18, aim_mid_channels=4, fusion_kernel_size=2)
    neck = AIMSIMNeck(
        in_channels=R18, aim_channels=4, aim_mid_channels=4, sim_low_channels=2, out_channels=4)
    feats = _pyramid(size=64)
    with pytest.raises(ValueError, match='expected the 5 backbone levels'):
        neck(feats[1:])
    with pytest.raises(ValueError, match=r'AIM2: input 1 must be \(N, 64, H, W\)'):
        neck([feats[0], feats[2]] + feats[2:])
    with pytest.raises(ValueError, match='at least 2x2'):
        neck(_pyramid(size=32))  # E5 is 1x1
