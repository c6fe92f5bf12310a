"""Tests of ResNetWithStem / ResNeXtWithStem: the stride-2 stem output, then the stages."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones import ResNet, ResNeXt

from dbdseg.models.backbones import ResNetWithStem, ResNeXtWithStem
from dbdseg.registry import MODELS


@pytest.fixture(autouse=True, scope='module')
def _single_thread():
    """Small tensors: one intra-op thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _torchvision_resnet_keys(depth):
    """State-dict keys of torchvision's ``resnet{depth}`` written out from torchvision's naming
    scheme (conv1/bn1, layerX.Y.convZ/bnZ, layerX.0.downsample.0/1, fc), without torchvision."""
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth]
    bottleneck = depth >= 50
    bn = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    keys = ['conv1.weight'] + [f'bn1.{k}' for k in bn]
    for stage, n in enumerate(blocks, start=1):
        for b in range(n):
            prefix = f'layer{stage}.{b}'
            for c in range(1, 4 if bottleneck else 3):
                keys.append(f'{prefix}.conv{c}.weight')
                keys += [f'{prefix}.bn{c}.{k}' for k in bn]
            if b == 0 and (stage > 1 or bottleneck):
                keys.append(f'{prefix}.downsample.0.weight')
                keys += [f'{prefix}.downsample.1.{k}' for k in bn]
    return keys + ['fc.weight', 'fc.bias']


def _randomize_bn(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.rand(m.num_features, generator=gen) + 0.5
            m.bias.data = torch.randn(m.num_features, generator=gen) * 0.1
            m.running_mean = torch.randn(m.num_features, generator=gen) * 0.1
            m.running_var = torch.rand(m.num_features, generator=gen) + 0.5


def test_resnet50_five_levels_channels_strides():
    model = ResNetWithStem(depth=50).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 64))
    assert len(outs) == 5
    assert [o.shape[1] for o in outs] == [64, 256, 512, 1024, 2048]
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]  # strides 2, 4, 8, 16, 32
    assert [o.shape[-2] for o in outs] == [32, 16, 8, 4, 2]
    assert all(o.shape[0] == 2 for o in outs)


def test_resnet18_channels_and_registry_build():
    model = MODELS.build(dict(type='ResNetWithStem', depth=18)).eval()
    assert isinstance(model, ResNetWithStem) and isinstance(model, ResNet)
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 32, 48), (64, 16, 24), (128, 8, 12),
                                                  (256, 4, 6), (512, 2, 3)]


def test_stem_output_is_conv1_bn1_relu_before_maxpool():
    model = ResNetWithStem(depth=18).eval()
    _randomize_bn(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        stem = model(x)[0]
        conv = F.conv2d(x, model.conv1.weight, stride=2, padding=3)
        bn = model.bn1
        expected = F.relu((conv - bn.running_mean[None, :, None, None]) /
                          torch.sqrt(bn.running_var[None, :, None, None] + bn.eps) *
                          bn.weight[None, :, None, None] + bn.bias[None, :, None, None])
    assert stem.shape == (2, 64, 32, 32)
    torch.testing.assert_close(stem, expected, rtol=1e-4, atol=1e-5)
    assert (stem >= 0).all() and (stem > 0).any()


def test_stages_equal_mmseg_resnet_with_the_same_weights():
    ours = ResNetWithStem(depth=50).eval()
    ref = ResNet(depth=50)
    ref.eval()  # mmseg's ResNet.train returns None: no chaining
    _randomize_bn(ref, seed=1)
    # strict: the key sets must be identical
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(ref.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours_out, ref_out = ours(x), ref(x)
    assert len(ref_out) == 4
    for a, b in zip(ours_out[1:], ref_out):
        torch.testing.assert_close(a, b)


def test_keys_are_torchvision_keys_and_pretrained_loads(tmp_path):
    model = ResNetWithStem(depth=50)
    expected = _torchvision_resnet_keys(50)
    assert set(model.state_dict()) == set(expected) - {'fc.weight', 'fc.bias'}
    # a torchvision-style checkpoint (with fc) loads through init_cfg unchanged
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    shapes.update({'fc.weight': (1000, 2048), 'fc.bias': (1000, )})
    gen = torch.Generator().manual_seed(3)
    ckpt = {
        k: (torch.randint(0, 9, shapes[k], generator=gen) if k.endswith('tracked') else torch.randn(
            shapes[k], generator=gen))
        for k in expected
    }
    path = tmp_path / 'resnet50_torchvision_style.pth'
    torch.save(ckpt, path)
    loaded = ResNetWithStem(depth=50, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    loaded.init_weights()
    state = loaded.state_dict()
    for k in ('conv1.weight', 'bn1.running_var', 'layer3.5.conv2.weight',
              'layer4.0.downsample.1.weight'):
        torch.testing.assert_close(state[k], ckpt[k])


def test_out_indices_select_levels():
    model = ResNetWithStem(depth=18, out_indices=(0, )).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert len(outs) == 1 and outs[0].shape == (1, 64, 16, 16)
    model = ResNetWithStem(depth=50, out_indices=(2, 4)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(512, 8, 8), (2048, 2, 2)]
    model = ResNetWithStem(
        depth=18, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(0, 3)).eval()
    outs = model(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [64, 256]


@pytest.mark.parametrize('kwargs', [
    dict(out_indices=(5, )),
    dict(out_indices=(-1, )),
    dict(out_indices=(3, 1)),
    dict(out_indices=()),
    dict(deep_stem=True),
    dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(4, ))
])
def test_invalid_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        ResNetWithStem(depth=18, **kwargs)


def test_deep_stem_message_explains():
    with pytest.raises(ValueError, match='7x7 stem'):
        ResNeXtWithStem(depth=50, deep_stem=True)


def test_frozen_stages_freeze_the_stem():
    model = ResNetWithStem(depth=18, frozen_stages=0)
    model.train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not model.bn1.training
    assert all(p.requires_grad for p in model.layer1.parameters())


def test_resnext101_32x4d():
    model = ResNeXtWithStem(depth=101, groups=32, base_width=4)
    assert isinstance(model, ResNeXt)
    # ResNeXt-101 32x4d feature extractor without the classifier: 44,177,704 with the
    # 2048x1000 fc, minus 2,049,000.
    assert sum(p.numel() for p in model.parameters()) == 42_128_704
    assert model.layer1[0].conv2.groups == 32 and model.layer1[0].conv2.out_channels == 128
    assert model.layer4[0].conv2.stride == (2, 2)  # pytorch style: the stride on the 3x3 conv
    ref = ResNeXt(depth=101, groups=32, base_width=4)
    assert model.eval() is model  # ours returns self (mmseg's ResNet.train returns None)
    assert set(model.state_dict()) == set(ref.state_dict())
    model.load_state_dict(ref.state_dict(), strict=True)
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 16, 16), (256, 8, 8), (512, 4, 4),
                                                  (1024, 2, 2), (2048, 1, 1)]
    assert MODELS.get('ResNeXtWithStem') is ResNeXtWithStem
