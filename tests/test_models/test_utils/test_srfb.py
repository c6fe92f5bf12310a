"""DD decoder blocks SRFB, RFB and UpsampleConvBlock (Cun & Pun 2020, Sec. 3.2, Table 2)."""
import pytest
import torch
import torch.nn.functional as F

from dbdseg.models.utils import RFB, SRFB, UpsampleConvBlock
from dbdseg.registry import MODELS

#: (in, out, parameters of deconv1..5 of DD's released ResNeXt decoder)
REF_DECONV = [(2048, 1024, 31812640), (1024, 512, 7976480), (512, 256, 2005792), (256, 64, 503008),
              (64, 32, 33920)]


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize('cin,cout,ref', REF_DECONV)
def test_srfb_parameter_counts_match_reference(cin, cout, ref):
    with torch.device('meta'):
        block = SRFB(cin, cout)
    assert n_params(block) == ref
    assert block.inner_channels == cin // 4
    assert block.pyramid.hidden_channels == 32  # max(c // 16, 32) for every reference level
    assert len(block.state_dict()) == 45  # as deconvK: 2 + 5 + 3 x 7 + 2 + 8 + 2 + 5


def test_srfb_shapes_upsampling_and_size():
    block = SRFB(16, 8).eval()
    x = torch.randn(2, 16, 5, 7)
    assert block(x).shape == (2, 8, 10, 14)
    assert block(x, size=(9, 13)).shape == (2, 8, 9, 13)  # odd sizes: to the skip's size
    assert SRFB(16, 8, scale_factor=1).eval()(x).shape == (2, 8, 5, 7)
    # nearest x2 upsampling: every input pixel becomes a 2x2 block
    up = block.upsample(x)
    assert torch.equal(up[..., ::2, ::2], x) and torch.equal(up[..., 1::2, 1::2], x)
    assert torch.equal(block.upsample(x, size=(10, 14)), up)
    with pytest.raises(ValueError, match=r'expected input \(N, 16, H, W\)'):
        block(torch.randn(1, 8, 5, 5))


def test_pyramid_branches_are_cascaded_dilated_convs():
    block = SRFB(32, 8)
    branches = block.pyramid.branches
    assert [b.conv.kernel_size for b in branches] == [(3, 3), (5, 5), (7, 7)]
    assert [b.conv.dilation for b in branches] == [(3, 3), (5, 5), (7, 7)]
    assert [b.conv.padding for b in branches] == [(3, 3), (10, 10), (21, 21)]
    assert all(b.conv.bias is not None for b in branches)
    assert all(b.order == ('conv', 'norm', 'act') for b in branches)
    x = torch.randn(1, 8, 12, 12)
    maps = block.pyramid.branch_maps(x)
    assert len(maps) == 4 and maps[0] is x  # identity first
    assert torch.allclose(maps[2], branches[1](maps[1]))  # cascade: branch 2 takes branch 1
    assert torch.allclose(maps[3], branches[2](maps[2]))
    parallel = SRFB(32, 8, cascade=False).pyramid
    parallel.load_state_dict(block.pyramid.state_dict())
    pmaps = parallel.branch_maps(x)
    assert torch.allclose(pmaps[2], branches[1](x)) and not torch.allclose(pmaps[2], maps[2])


def test_selection_is_softmax_over_branches():
    torch.manual_seed(0)
    pyramid = SRFB(64, 8).pyramid.eval()
    x = torch.randn(2, 16, 6, 6)
    out, att = pyramid(x, return_attention=True)
    assert att.shape == (2, 4, 16)
    assert torch.allclose(att.sum(1), torch.ones(2, 16), atol=1e-6)
    maps = pyramid.branch_maps(x)
    manual = sum(att[:, m, :, None, None] * maps[m] for m in range(4))
    assert torch.allclose(out, manual, atol=1e-6)
    # the squeeze is a plain Linear on the global average of U = sum of the maps
    s = torch.stack(maps, 1).sum(1).mean((2, 3))
    logits = torch.stack([fc(pyramid.fc(s)) for fc in pyramid.fcs], 1)
    assert torch.allclose(att, logits.softmax(1), atol=1e-6)


def test_reduce_and_expand_apply_relu_before_bn():
    block = SRFB(8, 4).eval()
    assert block.reduce.order == ('conv', 'act', 'norm')
    assert block.expand.order == ('conv', 'act', 'norm')
    assert block.reduce.conv.kernel_size == (3, 3) and block.expand.conv.kernel_size == (1, 1)
    # BN(ReLU(conv)) with a negative BN scale gives negative values; ReLU(BN(conv)) never would
    with torch.no_grad():
        block.reduce.bn.weight.fill_(-1.0)
        block.reduce.bn.bias.zero_()
    y = block.reduce(torch.randn(1, 8, 4, 4))
    assert (y < 0).any()


def test_rfb_and_plain_block():
    torch.manual_seed(0)
    rfb = RFB(64, 8)
    assert not hasattr(rfb.pyramid, 'fcs')  # no selection
    assert rfb.pyramid.fuse.conv.weight.shape == (16, 64, 1, 1)  # concat of 4 maps -> 16
    x = torch.randn(1, 64, 4, 4)
    assert rfb.eval()(x).shape == (1, 8, 8, 8)
    summed = RFB(64, 8, merge='sum').pyramid.eval()
    y = torch.randn(1, 16, 6, 6)
    assert torch.allclose(summed(y), sum(summed.branch_maps(y)), atol=1e-6)
    plain = UpsampleConvBlock(64, 8).eval()
    assert plain.pyramid is None
    assert n_params(plain) == n_params(plain.reduce) + n_params(plain.expand)
    assert torch.allclose(plain(x), plain.expand(plain.reduce(F.interpolate(x, scale_factor=2))))
    # the ablation removes exactly the pyramid
    srfb = SRFB(64, 8)
    assert n_params(srfb) - n_params(srfb.pyramid) == n_params(plain)
    with pytest.raises(ValueError, match='merge'):
        RFB(64, 8, merge='max')


def test_built_from_config_and_errors():
    for name in ('SRFB', 'RFB', 'UpsampleConvBlock'):
        block = MODELS.build(dict(type=name, in_channels=16, out_channels=4))
        assert block.eval()(torch.randn(1, 16, 3, 3)).shape == (1, 4, 6, 6)
    with pytest.raises(ValueError, match='reduction 4 = 0 inner channels'):
        SRFB(3, 4)
    assert SRFB(3, 4, inner_channels=2).inner_channels == 2
    with pytest.raises(ValueError, match='same length'):
        SRFB(16, 4, kernel_sizes=(3, 5), dilations=(1, 2, 3))
    with pytest.raises(ValueError, match='odd'):
        SRFB(16, 4, kernel_sizes=(2, ), dilations=(1, ))
    with pytest.raises(ValueError, match='conv_order'):
        SRFB(16, 4, conv_order=('act', 'conv', 'norm'))
    with pytest.raises(ValueError, match='scale_factor'):
        SRFB(16, 4, scale_factor=0)
