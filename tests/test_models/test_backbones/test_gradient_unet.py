"""Tests of GradientUNet (Zhang & Yan 2020, Sec. 3.4, Fig. 4) and its configs."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import dbdseg  # noqa: F401  registers dbdseg's modules
from dbdseg.models.backbones import GradientUNet
from dbdseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
TINY = dict(widths=(4, 8, 16), fuse_channels=8)


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    """Small tensors: one intra-op thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def normalise(img):
    """(N, 3, H, W) RGB in [0, 255] -> what SegDataPreProcessor feeds the backbone."""
    return (img - MEAN) / STD


def ramp(h, w, slopes, axis):
    """(1, 3, h, w) image whose channel c is 20 + slopes[c] * coordinate along ``axis``."""
    coord = torch.arange(w if axis == 'x' else h, dtype=torch.float32)
    coord = coord.view(1, w) if axis == 'x' else coord.view(h, 1)
    return torch.stack([20 + s * coord.expand(h, w) for s in slopes])[None]


@pytest.mark.parametrize('size', [(16, 16), (32, 48), (64, 32), (96, 160)])
def test_output_shapes_all_levels(size):
    model = GradientUNet(**TINY, out_indices=(0, 1, 2)).eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(2, 3, h, w))
    # index i = stride 2 ** i; decoder widths default to widths[-2::-1] = (8, 4)
    assert [tuple(o.shape) for o in outs] == [(2, 4, h, w), (2, 8, h // 2, w // 2),
                                              (2, 8, h // 4, w // 4)]
    assert model.out_channels == (4, 8, 8)
    assert model.total_stride == 4


def test_default_model_full_resolution_output_and_sizes():
    model = GradientUNet().eval()
    assert model.total_stride == 16
    with torch.no_grad():
        (out, ) = model(torch.randn(1, 3, 64, 96))
    assert out.shape == (1, 16, 64, 96)
    assert model.out_channels == (16, )
    # pinned by the README / docstring numbers (paper: 26.73 MB with, 7.79 MB without gradients)
    assert n_params(model) == 6_683_344
    assert n_params(GradientUNet(use_gradients=False)) == 3_144_752


@pytest.mark.parametrize('kernel', ['central', 'sobel'])
def test_gradient_of_linear_ramp_equals_slope(kernel):
    model = GradientUNet(**TINY, gradient_kernel=kernel)
    slopes = (3.0, 1.0, 2.0)  # intensity levels per pixel, per RGB channel
    dx, dy = model.compute_gradients(normalise(ramp(12, 20, slopes, 'x')))
    gray_slope = (0.299 * 3 + 0.587 * 1 + 0.114 * 2) / 255  # = 1.712 / 255
    assert dx.shape == dy.shape == (1, 1, 12, 20)
    torch.testing.assert_close(dx[..., 1:-1], torch.full((1, 1, 12, 18), 0.00671372549))
    # replicate padding: one-sided difference at the left/right columns -> half the slope
    torch.testing.assert_close(dx[..., 0], torch.full((1, 1, 12), 0.00671372549 / 2))
    torch.testing.assert_close(dx[..., -1], torch.full((1, 1, 12), 0.00671372549 / 2))
    assert abs(gray_slope - 0.00671372549) < 1e-9
    torch.testing.assert_close(dy, torch.zeros_like(dy), atol=1e-6, rtol=0)
    # the same along y (y grows downwards)
    dx, dy = model.compute_gradients(normalise(ramp(20, 12, slopes, 'y')))
    torch.testing.assert_close(dy[..., 1:-1, :], torch.full((1, 1, 18, 12), 0.00671372549))
    torch.testing.assert_close(dx, torch.zeros_like(dx), atol=1e-6, rtol=0)


def test_gradient_rgb_mode_per_channel():
    model = GradientUNet(**TINY, gradient_mode='rgb')
    dx, dy = model.compute_gradients(normalise(ramp(8, 10, (3.0, -1.0, 0.0), 'x')))
    assert dx.shape == (1, 3, 8, 10)
    inner = dx[0, :, :, 1:-1].mean(dim=(1, 2))
    torch.testing.assert_close(inner, torch.tensor([3 / 255, -1 / 255, 0.]), atol=1e-6, rtol=0)
    torch.testing.assert_close(dy, torch.zeros_like(dy), atol=1e-6, rtol=0)
    assert model.dx_encoder[0].convs[0].conv.in_channels == 3
    assert GradientUNet(**TINY).dx_encoder[0].convs[0].conv.in_channels == 1


def test_sobel_and_central_differ_on_curved_image():
    img = torch.zeros(1, 3, 8, 8)
    img[..., 4, 4] = 255.
    x = normalise(img)
    c = GradientUNet(**TINY, gradient_kernel='central').compute_gradients(x)[0]
    s = GradientUNet(**TINY, gradient_kernel='sobel').compute_gradients(x)[0]
    assert c[0, 0, 3, 5] == 0 and s[0, 0, 3, 5] != 0  # Sobel also looks at the next row
    torch.testing.assert_close(c[0, 0, 4, 5], torch.tensor(-0.5))
    torch.testing.assert_close(s[0, 0, 4, 5], torch.tensor(-0.25))


def test_denormalisation():
    model = GradientUNet(**TINY)
    img = torch.rand(2, 3, 8, 8) * 255
    torch.testing.assert_close(model.denormalize(normalise(img)), img / 255, rtol=1e-5, atol=1e-6)
    # another preprocessor's statistics are honoured
    other = GradientUNet(**TINY, mean=(0., 0., 0.), std=(255., 255., 255.))
    torch.testing.assert_close(other.denormalize(img / 255.), img / 255)


def test_gradient_kernels_are_fixed_buffers_not_saved():
    model = GradientUNet(**TINY)
    names = dict(model.named_buffers())
    assert {'kernel_dx', 'kernel_dy', 'img_mean', 'img_std'} <= set(names)
    assert not any('kernel' in n or 'img_mean' in n for n, _ in model.named_parameters())
    assert not any('kernel' in k or 'img_std' in k for k in model.state_dict())
    torch.testing.assert_close(model.kernel_dx[0, 0, 1], torch.tensor([-0.5, 0., 0.5]))
    torch.testing.assert_close(model.kernel_dy[0, 0, :, 1], torch.tensor([-0.5, 0., 0.5]))


def test_without_gradients_is_the_image_only_unet():
    with_g = GradientUNet(**TINY)
    without = GradientUNet(**TINY, use_gradients=False)
    assert n_params(without) < n_params(with_g)
    assert not hasattr(without, 'dx_encoder') and not hasattr(without, 'dy_encoder')
    assert not hasattr(without, 'kernel_dx')
    assert hasattr(with_g, 'dx_encoder') and hasattr(with_g, 'dy_encoder')
    # the fusion module sees one bottleneck instead of three
    assert without.fuse[0].conv.in_channels == 16 and with_g.fuse[0].conv.in_channels == 48
    assert without(torch.randn(1, 3, 16, 16))[0].shape == (1, 4, 16, 16)


def test_skip_from_all_adds_gradient_skips():
    image = GradientUNet(**TINY, skip_from='image')
    all_ = GradientUNet(**TINY, skip_from='all')
    assert n_params(all_) > n_params(image)
    # last stage: 4 (deconv) + 4 (image skip) vs 4 + 3 * 4
    assert image.decoder[-1].convs[0].conv.in_channels == 8
    assert all_.decoder[-1].convs[0].conv.in_channels == 16
    assert all_.eval()(torch.randn(1, 3, 16, 16))[0].shape == (1, 4, 16, 16)


def test_dropout_after_fusion():
    model = GradientUNet(**TINY, out_indices=(2, ))
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p == 0.2
    x = torch.randn(1, 3, 16, 16)
    model.train()
    a, b = model(x)[0], model(x)[0]
    assert not torch.equal(a, b)  # a train-mode forward drops different units
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    assert isinstance(GradientUNet(**TINY, dropout_ratio=0).dropout, nn.Identity)


def test_indivisible_input_raises_naming_shape():
    model = GradientUNet(**TINY)  # total stride 4
    with pytest.raises(ValueError, match=r'\(1, 3, 18, 16\)'):
        model(torch.randn(1, 3, 18, 16))
    with pytest.raises(ValueError, match='size_divisor=16'):
        GradientUNet()(torch.randn(1, 3, 40, 40))


@pytest.mark.parametrize('kwargs', [
    dict(widths=(8, )),
    dict(decoder_widths=(4, )),
    dict(gradient_kernel='scharr'),
    dict(gradient_mode='hsv'),
    dict(skip_from='dx'),
    dict(pool_type='lp'),
    dict(out_indices=(3, )),
    dict(mean=(0., 0.)),
    dict(in_channels=4),
    dict(fuse_num_convs=0),
    dict(dropout_ratio=1.0)
])
def test_invalid_arguments_raise(kwargs):
    args = dict(TINY)
    args.update(kwargs)
    with pytest.raises(ValueError):
        GradientUNet(**args)


def test_avg_pool_and_deconv_only_decoder():
    model = GradientUNet(**TINY, pool_type='avg', decoder_num_convs=0).eval()
    assert isinstance(model.image_encoder[0].pool, nn.AvgPool2d)
    assert model.image_encoder[-1].pool is None  # the module before the concatenation
    (out, ) = model(torch.randn(1, 3, 16, 16))
    assert out.shape == (1, 8, 16, 16) and model.out_channels == (8, )  # deconv 4 + skip 4


def test_registry_build():
    model = MODELS.build(dict(type='GradientUNet', **TINY))
    assert isinstance(model, GradientUNet)


# ------------------------------------------------------------------ the EncoderDecoder / configs
def _tiny_segmentor(**backbone):
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/realtime_dbd.py'))
    cfg.model.backbone.update(widths=(4, 8, 16), decoder_widths=(8, 4), fuse_channels=8, **backbone)
    cfg.model.decode_head.update(in_channels=4, channels=4)
    cfg.model.data_preprocessor.size = (32, 32)  # set from crop_size by the primitive configs
    return MODELS.build(cfg.model)


def _fake_batch(n=2, size=32, seed=0):
    """BGR uint8 images: a sharp random texture in the in-focus square (label 1), flat grey
    elsewhere (label 0)."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        img = torch.full((3, size, size), 128, dtype=torch.uint8)
        label = torch.zeros(1, size, size, dtype=torch.long)
        y0, x0 = 4 + 8 * i, 12 - 8 * i
        tex = torch.randint(0, 256, (3, 16, 16), generator=gen, dtype=torch.uint8)
        img[:, y0:y0 + 16, x0:x0 + 16] = tex
        label[:, y0:y0 + 16, x0:x0 + 16] = 1
        sample = SegDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=label)
        inputs.append(img)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_segmentor_overfits_and_predicts_probabilities():
    torch.manual_seed(0)
    model = _tiny_segmentor()
    data = model.data_preprocessor(_fake_batch(), training=True)
    assert data['inputs'].shape == (2, 3, 32, 32)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(20):
        loss = model.loss(data['inputs'], data['data_samples'])['decode.loss_ce']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses
    model.eval()
    with torch.no_grad():
        test = model.data_preprocessor(_fake_batch(), training=False)
        preds = model.predict(test['inputs'], test['data_samples'])
    assert len(preds) == 2
    for pred, sample in zip(preds, test['data_samples']):
        prob = pred.seg_logits.data
        assert prob.shape == (1, 32, 32)
        assert prob.min() >= 0 and prob.max() <= 1
        assert pred.pred_sem_seg.data.shape == (1, 32, 32)
        assert set(pred.pred_sem_seg.data.unique().tolist()) <= {0, 1}
        # the fit is good enough to get most pixels of the training batch right
        acc = (pred.pred_sem_seg.data == sample.gt_sem_seg.data).float().mean()
        assert acc > 0.8


def test_model_size_numbers_for_readme():
    from dbdseg.utils.benchmark import config_model_size, format_model_size
    cfg_dir = osp.join(ROOT, 'configs/realtime_dbd')
    full = config_model_size(
        osp.join(cfg_dir, 'realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py'))
    out = format_model_size(full)
    assert 'backbone' in out and 'decode_head' in out and 'MB' in out
    assert full['parts'] == {'backbone': 6_683_344, 'decode_head': 17}
    assert full['total_params'] == 6_683_361
    assert 26.80 < full['fp32_MB'] < 26.88  # paper: 26.73
    nograd = config_model_size(
        osp.join(cfg_dir, 'realtime-dbd_unet-nograd_1xb64-bce-19k_cuhk-320x320.py'))
    assert nograd['total_params'] == 3_144_769
    assert 12.60 < nograd['fp32_MB'] < 12.67  # paper: 7.79
