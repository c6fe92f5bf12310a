"""MINet's AIM / SIM blocks (dbdseg.models.utils.aim_sim_blocks; Pang et al., CVPR 2020,
Sec. 3.2-3.3), used by AFIU's AIMSIMNeck.

Each block is checked against a functional re-statement of MINet's released blocks written with
MINet's own weight names (``h2h_0``, ``bnh_0``, ``l2h_1``, ...), loaded into the dbdseg block
through the MINet converter's renaming (dbdseg.utils.model_conversion.minet), so the test pins both
the computation and the mapping.
"""
import pytest
import torch
import torch.nn.functional as F

from dbdseg.models.utils.aim_sim_blocks import AIM2, AIM3, SIM, resize_down, resize_up


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _convert_block_key():
    from dbdseg.utils.model_conversion.minet import convert_block_key
    return convert_block_key


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
    """MINet's 2-input AIM block (code/module/MyModule.py), MINet names."""
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
    """MINet's 3-input AIM block (code/module/MyModule.py), MINet names."""
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
    """MINet's SIM (code/module/MyModule.py), MINet names."""
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
    h, m, l = (  # noqa: E741
        _rand(2, 6, 16, 16, seed=1), _rand(2, 8, 8, 8, seed=2), _rand(2, 12, 4, 4, seed=3))
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


def test_aim2_main_must_be_high_or_low():
    with pytest.raises(ValueError, match="main must be 'high' or 'low'"):
        AIM2((4, 4), 4, main='mid')
