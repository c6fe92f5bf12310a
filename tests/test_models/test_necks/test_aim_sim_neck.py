"""AIMSIMNeck and its AIM / SIM blocks (AFIU encoder; MINet blocks, MODELS.md B.2.2, B.2.3, B.2.7).

Each block is checked against a functional re-statement of MODELS.md B.2.2/B.2.3 written with
MINet's own weight names (``h2h_0``, ``bnh_0``, ``l2h_1``, ...), loaded into the dbdseg block
through the MINet converter's renaming (tools/model_converters/minet2dbdseg.py), so the test pins
both the computation and the mapping. Parameter counts are those of reference_keys/minet_res50.txt.
"""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
import torch.nn.functional as F

import dbdseg  # noqa: F401  registers dbdseg's modules
from dbdseg.models.necks import AIMSIMNeck
from dbdseg.models.necks.aim_sim_blocks import AIM2, AIM3, SIM, resize_down, resize_up
from dbdseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
R18 = (64, 64, 128, 256, 512)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _convert_block_key():
    name = 'dbdseg_tool_minet2dbdseg'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(ROOT, 'tools', 'model_converters', 'minet2dbdseg.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].convert_block_key


# ------------------------------------------------------------------ MINet-named weights
class _W(dict):
    """Random MINet-named weights, created on first use with the shape asked for."""

    def __init__(self, seed):
        super().__init__()
        self.gen = torch.Generator().manual_seed(seed)

    def conv(self, name, x, cout, k=3):
        w = f'{name}.weight'
        if w not in self:
            cin = x.shape[1]
            self[w] = torch.randn(cout, cin, k, k, generator=self.gen) * (2.0 / (k * k * cin))**0.5
            self[f'{name}.bias'] = torch.randn(cout, generator=self.gen) * 0.1
        return F.conv2d(x, self[w], self[f'{name}.bias'], padding=k // 2)

    def bn(self, name, x):
        c = x.shape[1]
        if f'{name}.weight' not in self:
            self[f'{name}.weight'] = torch.rand(c, generator=self.gen) + 0.5
            self[f'{name}.bias'] = torch.randn(c, generator=self.gen) * 0.1
            self[f'{name}.running_mean'] = torch.randn(c, generator=self.gen) * 0.1
            self[f'{name}.running_var'] = torch.rand(c, generator=self.gen) + 0.5
            self[f'{name}.num_batches_tracked'] = torch.tensor(5)
        return F.batch_norm(
            x,
            self[f'{name}.running_mean'],
            self[f'{name}.running_var'],
            self[f'{name}.weight'],
            self[f'{name}.bias'],
            training=False)


def up(x):  # MINet AIM: nearest x2
    return F.interpolate(x, scale_factor=2, mode='nearest')


def down(x):  # MINet: AvgPool 2x2
    return F.avg_pool2d(x, 2, 2)


def ref_aim2(w, h, l, mid, out, main):  # noqa: E741
    """MODELS.md B.2.2, 2-input block, MINet names."""
    r = F.relu
    h0 = r(w.bn('bnh_0', w.conv('h2h_0', h, mid)))
    l0 = r(w.bn('bnl_0', w.conv('l2l_0', l, mid)))
    h1 = r(w.bn('bnh_1', w.conv('h2h_1', h0, mid) + w.conv('l2h_1', up(l0), mid)))
    l1 = r(w.bn('bnl_1', w.conv('l2l_1', l0, mid) + w.conv('h2l_1', down(h0), mid)))
    if main == 'high':
        m = r(w.bn('bnh_2', w.conv('h2h_2', h1, mid) + w.conv('l2h_2', up(l1), mid)))
        return r(w.bn('bnh_3', w.conv('h2h_3', m, out)) + w.conv('identity', h, out, k=1))
    m = r(w.bn('bnl_2', w.conv('h2l_2', down(h1), mid) + w.conv('l2l_2', l1, mid)))
    return r(w.bn('bnl_3', w.conv('l2l_3', m, out)) + w.conv('identity', l, out, k=1))


def ref_aim3(w, h, m, l, mid, out):  # noqa: E741
    """MODELS.md B.2.2, 3-input block, MINet names."""
    r = F.relu
    h0 = r(w.bn('bnh_0', w.conv('h2h_0', h, mid)))
    m0 = r(w.bn('bnm_0', w.conv('m2m_0', m, mid)))
    l0 = r(w.bn('bnl_0', w.conv('l2l_0', l, mid)))
    h1 = r(w.bn('bnh_1', w.conv('h2h_1', h0, mid) + w.conv('m2h_1', up(m0), mid)))
    m1 = r(
        w.bn(
            'bnm_1',
            w.conv('h2m_1', down(h0), mid) + w.conv('m2m_1', m0, mid) +
            w.conv('l2m_1', up(l0), mid)))
    l1 = r(w.bn('bnl_1', w.conv('m2l_1', down(m0), mid) + w.conv('l2l_1', l0, mid)))
    m2 = r(
        w.bn(
            'bnm_2',
            w.conv('h2m_2', down(h1), mid) + w.conv('m2m_2', m1, mid) +
            w.conv('l2m_2', up(l1), mid)))
    return r(w.bn('bnm_3', w.conv('m2m_3', m2, out)) + w.conv('identity', m, out, k=1))


def ref_sim(w, x, lc):
    """MODELS.md B.2.3, MINet names."""
    r, hc, size = F.relu, x.shape[1], x.shape[2:]

    def up_to(t):
        return F.interpolate(t, size=size, mode='bilinear', align_corners=False)

    h0 = r(w.bn('bnh_0', w.conv('h2h_0', x, hc)))
    l0 = r(w.bn('bnl_0', w.conv('h2l_0', down(x), lc)))
    h1 = r(w.bn('bnh_1', w.conv('h2h_1', h0, hc) + w.conv('l2h_1', up_to(l0), hc)))
    l1 = r(w.bn('bnl_1', w.conv('l2l_1', l0, lc) + w.conv('h2l_1', down(h0), lc)))
    h2 = r(w.bn('bnh_2', w.conv('h2h_2', h1, hc) + w.conv('l2h_2', up_to(l1), hc)))
    return h2 + x


def _load_minet(block, w):
    convert = _convert_block_key()
    mine = {convert(k): v for k, v in w.items()}
    assert None not in mine
    block.load_state_dict(mine, strict=True)
    return block.eval()


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('main', ['high', 'low'])
def test_aim2_forward(main):
    h, l = _rand(2, 6, 16, 12, seed=1), _rand(2, 10, 8, 6, seed=2)  # noqa: E741
    w = _W(seed=3)
    ref = ref_aim2(w, h, l, mid=5, out=7, main=main)
    block = _load_minet(AIM2((6, 10), 7, main=main, mid_channels=5), w)
    with torch.no_grad():
        out = block(h, l)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


def test_aim3_forward():
    h, m, l = _rand(2, 6, 16, 16, seed=1), _rand(2, 8, 8, 8, seed=2), _rand(2, 12, 4, 4, seed=3)
    w = _W(seed=4)
    ref = ref_aim3(w, h, m, l, mid=6, out=5)
    block = _load_minet(AIM3((6, 8, 12), 5), w)  # mid = min(6, 8, 12) as MINet
    assert block.mid_channels == 6
    with torch.no_grad():
        out = block(h, m, l)
    assert out.shape == (2, 5, 8, 8)
    assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


@pytest.mark.parametrize('size', [(8, 8), (7, 9)])
def test_sim_forward(size):
    x = _rand(2, 6, *size, seed=5)
    w = _W(seed=6)
    ref = ref_sim(w, x, lc=3)
    block = _load_minet(SIM(6, 3), w)
    with torch.no_grad():
        out = block(x)
    assert out.shape == x.shape
    assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


def test_size_resampling_equals_minet_fixed_factor_on_even_sizes():
    x = _rand(1, 3, 6, 10)
    assert torch.equal(resize_up(x, (12, 20)), up(x))
    assert torch.equal(resize_down(x, (3, 5)), down(x))
    # other sizes: nearest / adaptive average to the target size
    assert resize_up(x, (13, 21)).shape[-2:] == (13, 21)
    y = _rand(1, 3, 7, 7)
    assert torch.allclose(resize_down(y, (4, 4)), F.adaptive_avg_pool2d(y, (4, 4)))


# ------------------------------------------------------------------ the neck
def test_resnet50_widths_match_minet_block_for_block():
    with torch.device('meta'):
        neck = MODELS.build(dict(type='AIMSIMNeck'))
    counts = [sum(p.numel() for p in a.parameters()) for a in neck.aims]
    # reference_keys/minet_res50.txt: trans.conv0 .. trans.conv4
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
    with pytest.raises(ValueError, match="main must be 'high' or 'low'"):
        AIM2((4, 4), 4, main='mid')
