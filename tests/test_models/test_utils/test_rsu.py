"""RSU-L / RSU-LF blocks and REBNConv (U²-Net, Qin et al. 2020, Sec. 3.1, Fig. 2).

The forward is checked against a functional re-statement of the RSU of the official U²-Net code
(github.com/xuebinqin/U-2-Net, model/u2net.py) written with U²-Net's own weight names
(``rebnconvin``, ``rebnconv{k}``, ``rebnconv{k}d``; ``conv_s1``/``bn_s1``): the dbdseg block gets
those weights through the U²-Net converter's key renaming, so the test pins both the block and the
mapping. Parameter counts are those of the stages of the official U2NET and
U2NETP models (same file), built with random weights.
"""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from dbdseg.models.utils import RSU, REBNConv
from dbdseg.utils.model_conversion.u2net import (U2NET_STAGE_PARAMS, U2NET_STAGES,
                                                 U2NETP_STAGE_PARAMS, U2NETP_STAGES)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _converter():
    from dbdseg.utils.model_conversion import u2net
    return u2net


@pytest.mark.parametrize(
    'table,params', [(U2NET_STAGES, U2NET_STAGE_PARAMS), (U2NETP_STAGES, U2NETP_STAGE_PARAMS)],
    ids=['u2net', 'u2netp'])
def test_parameter_counts_match_u2net_stages(table, params):
    for stage, (h, cin, mid, cout, dilated) in table.items():
        ref = params[stage]
        with torch.device('meta'):
            block = RSU(h, cin, mid, cout, dilated=dilated)
        assert sum(p.numel() for p in block.parameters()) == ref, stage
        # 2L units x (conv weight, bias + 5 BN entries)
        assert len(block.state_dict()) == 2 * h * 7, stage


# ------------------------------------------------------------------ functional reference
def _u2net_weights(height, cin, mid, cout, seed=0):
    """Random U²-Net-named weights of one RSU stage (BN with non-trivial statistics)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}

    def unit(name, o, i):
        sd[f'{name}.conv_s1.weight'] = torch.randn(o, i, 3, 3, generator=gen) * (2.0 / (9 * i))**0.5
        sd[f'{name}.conv_s1.bias'] = torch.randn(o, generator=gen) * 0.1
        sd[f'{name}.bn_s1.weight'] = torch.rand(o, generator=gen) + 0.5
        sd[f'{name}.bn_s1.bias'] = torch.randn(o, generator=gen) * 0.1
        sd[f'{name}.bn_s1.running_mean'] = torch.randn(o, generator=gen) * 0.1
        sd[f'{name}.bn_s1.running_var'] = torch.rand(o, generator=gen) + 0.5
        sd[f'{name}.bn_s1.num_batches_tracked'] = torch.tensor(10)

    unit('rebnconvin', cout, cin)
    unit('rebnconv1', mid, cout)
    for k in range(2, height + 1):
        unit(f'rebnconv{k}', mid, mid)
    for k in range(height - 1, 1, -1):
        unit(f'rebnconv{k}d', mid, 2 * mid)
    unit('rebnconv1d', cout, 2 * mid)
    return sd


def _ref_unit(sd, name, x, dilation):
    y = F.conv2d(
        x,
        sd[f'{name}.conv_s1.weight'],
        sd[f'{name}.conv_s1.bias'],
        padding=dilation,
        dilation=dilation)
    y = F.batch_norm(
        y,
        sd[f'{name}.bn_s1.running_mean'],
        sd[f'{name}.bn_s1.running_var'],
        sd[f'{name}.bn_s1.weight'],
        sd[f'{name}.bn_s1.bias'],
        training=False,
        eps=1e-5)
    return F.relu(y)


def _ref_rsu(sd, x, height, dilated):
    """U²-Net's RSU (official model/u2net.py) in U²-Net's names (eval mode)."""
    L = height
    hxin = _ref_unit(sd, 'rebnconvin', x, 1)
    enc = [_ref_unit(sd, 'rebnconv1', hxin, 1)]
    for k in range(2, L):
        if dilated:
            enc.append(_ref_unit(sd, f'rebnconv{k}', enc[-1], 2**(k - 1)))
        else:
            pooled = F.max_pool2d(enc[-1], 2, stride=2, ceil_mode=True)
            enc.append(_ref_unit(sd, f'rebnconv{k}', pooled, 1))
    bottom = _ref_unit(sd, f'rebnconv{L}', enc[-1], 2**(L - 1) if dilated else 2)
    d = _ref_unit(sd, f'rebnconv{L - 1}d', torch.cat([bottom, enc[L - 2]], 1),
                  2**(L - 2) if dilated else 1)
    for k in range(L - 2, 0, -1):
        skip = enc[k - 1]
        up = d if dilated else F.interpolate(
            d, size=skip.shape[2:], mode='bilinear', align_corners=False)
        d = _ref_unit(sd, f'rebnconv{k}d', torch.cat([up, skip], 1), 2**(k - 1) if dilated else 1)
    return d + hxin


@pytest.mark.parametrize('height,dilated,size', [(7, False, (37, 50)), (6, False, (32, 32)),
                                                 (5, False, (20, 13)), (4, False, (10, 10)),
                                                 (4, True, (10, 10)), (3, False, (9, 9)),
                                                 (2, False, (6, 7)), (5, True, (24, 24))])
def test_forward_equals_u2net_description(height, dilated, size):
    cin, mid, cout = 5, 4, 6
    sd = _u2net_weights(height, cin, mid, cout, seed=height)
    conv = _converter()
    mine = {conv.convert_rsu_key(k, height): v for k, v in sd.items()}
    assert None not in mine
    block = RSU(height, cin, mid, cout, dilated=dilated).eval()
    block.load_state_dict(mine, strict=True)
    x = torch.randn(2, cin, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = block(x)
        ref = _ref_rsu(sd, x, height, dilated)
    assert out.shape == (2, cout, *size)
    assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


def test_structure_pools_and_dilations():
    b = RSU(7, 3, 4, 8)
    assert b.name == 'RSU7' and b.num_pools == 5
    assert [e.conv.dilation[0] for e in b.encoders] == [1] * 6 and b.bottom.conv.dilation[0] == 2
    assert [d.conv.in_channels for d in b.decoders] == [8] * 6
    assert b.decoders[0].conv.out_channels == 8 and b.conv_in.conv.out_channels == 8
    f = RSU(4, 3, 4, 8, dilated=True)
    assert f.name == 'RSU4F' and f.num_pools == 0
    assert [e.conv.dilation[0] for e in f.encoders] == [1, 2, 4]
    assert f.bottom.conv.dilation[0] == 8
    assert [d.conv.dilation[0] for d in f.decoders] == [1, 2, 4]
    assert [d.conv.padding[0] for d in f.decoders] == [1, 2, 4]
    assert 'RSU4F(in=3, mid=4, out=8)' in repr(f)


def test_residual_and_gradients():
    torch.manual_seed(0)
    b = RSU(5, 3, 4, 6)
    x = torch.randn(2, 3, 17, 23, requires_grad=True)
    out = b(x)  # training mode: batch statistics
    out.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in b.parameters())
    # the output is d1 + x_in: zeroing the decoder's last conv leaves x_in = conv_in(x)
    b.eval()
    with torch.no_grad():
        b.decoders[0].bn.weight.zero_()
        b.decoders[0].bn.bias.zero_()
        assert torch.allclose(b(x), b.conv_in(x))


def test_rebnconv_shapes_and_errors():
    u = REBNConv(3, 5, dilation=3)
    assert u(torch.randn(1, 3, 9, 11)).shape == (1, 5, 9, 11)
    assert u.conv.bias is not None and u.conv.padding == (3, 3)
    with pytest.raises(ValueError, match='dilation'):
        REBNConv(3, 5, dilation=0)
    with pytest.raises(ValueError, match='channels'):
        REBNConv(0, 5)


def test_rsu_errors():
    with pytest.raises(ValueError, match='height'):
        RSU(1, 3, 4, 5)
    with pytest.raises(ValueError, match='height'):
        RSU(4.0, 3, 4, 5)
    with pytest.raises(ValueError, match='mid_channels'):
        RSU(4, 3, 0, 5)
    with pytest.raises(ValueError, match=r'RSU4: expected an \(N, 3, H, W\) input'):
        RSU(4, 3, 4, 5)(torch.randn(1, 4, 8, 8))
