"""Pretrained weights: the error says which file to place where; placing it there works offline."""
import os
import os.path as osp
from urllib.error import URLError

import pytest
import torch

from dbdseg.models.backbones import ResNetWithStem
from dbdseg.models.utils import pretrained_fetch_help, pretrained_source
from dbdseg.models.utils.pretrained import frozen_random_message


def test_pretrained_source_resolves_torchvision_names(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url, local = pretrained_source('torchvision://resnet18')
    assert url.startswith('https://') and url.endswith('.pth') and 'resnet18' in url
    assert local == osp.join(str(tmp_path), 'hub', 'checkpoints', osp.basename(url))
    assert pretrained_source('/some/file.pth') == ('/some/file.pth', '/some/file.pth')
    msg = pretrained_fetch_help('torchvision://resnet18')
    assert url in msg and local in msg and 'model.backbone.init_cfg=None' in msg


def test_missing_local_checkpoint_names_the_file(tmp_path):
    missing = str(tmp_path / 'resnet18.pth')
    model = ResNetWithStem(depth=18, init_cfg=dict(type='Pretrained', checkpoint=missing))
    with pytest.raises(RuntimeError, match='resnet18.pth.*missing or unreadable.*init_cfg=None'):
        model.init_weights()


def test_failed_fetch_says_where_to_place_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))

    def no_network(*args, **kwargs):
        raise URLError('no network in tests')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    _, local = pretrained_source('torchvision://resnet18')
    model = ResNetWithStem(
        depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
    with pytest.raises(RuntimeError) as info:
        model.init_weights()
    assert local in str(info.value) and 'init_cfg=None' in str(info.value)


def test_weights_placed_where_the_message_says_load(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    _, local = pretrained_source('torchvision://resnet18')
    src = ResNetWithStem(depth=18)
    with torch.no_grad():
        for p in src.parameters():
            p.fill_(0.25)
    os.makedirs(osp.dirname(local), exist_ok=True)
    torch.save(src.state_dict(), local)
    model = ResNetWithStem(depth=18, init_cfg=dict(type='Pretrained', checkpoint=local))
    model.init_weights()
    assert torch.all(model.conv1.weight == 0.25)


def test_torchvision_names_resolve_to_explicit_urls_without_torchvision(monkeypatch, tmp_path):
    """Issue 20 item 5: the advice names the explicit URL (mmengine loads http(s) checkpoints
    through the torch hub cache without importing torchvision)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    for name, url in (('torchvision://resnet50',
                       'https://download.pytorch.org/models/resnet50-0676ba61.pth'),
                      ('torchvision://vgg16',
                       'https://download.pytorch.org/models/vgg16-397923af.pth')):
        assert pretrained_source(name) == (url,
                                           osp.join(
                                               str(tmp_path), 'hub', 'checkpoints',
                                               osp.basename(url)))
        msg = pretrained_fetch_help(name)
        assert f'--cfg-options model.backbone.init_cfg.checkpoint={url}' in msg
        assert 'without torchvision' in msg


def test_url_placed_in_the_hub_cache_loads_offline(monkeypatch, tmp_path):
    """The advice works: the file placed in the hub cache loads through the https name, with
    downloads impossible."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = 'https://download.pytorch.org/models/resnet18-f37072fd.pth'
    _, local = pretrained_source(url)
    src = ResNetWithStem(depth=18)
    with torch.no_grad():
        for p in src.parameters():
            p.fill_(0.5)
    os.makedirs(osp.dirname(local), exist_ok=True)
    torch.save(src.state_dict(), local)

    def no_network(*args, **kwargs):
        raise URLError('no network in tests')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    model = ResNetWithStem(depth=18, init_cfg=dict(type='Pretrained', checkpoint=url))
    model.init_weights()
    assert torch.all(model.conv1.weight == 0.5)


def test_missing_mocov2_file_says_where_it_comes_from(tmp_path, monkeypatch):
    """Issue 20 item 6: the relative MoCo path is shown resolved against the current folder, with
    where MoCo-v2 weights come from and the converter that makes the file; a frozen backbone's
    scratch advice unfreezes it."""
    monkeypatch.chdir(tmp_path)
    model = ResNetWithStem(
        depth=18,
        frozen_stages=4,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mocov2_r50_800ep.pth'))
    with pytest.raises(RuntimeError) as info:
        model.init_weights()
    msg = str(info.value)
    assert osp.join(str(tmp_path), 'checkpoints/mocov2_r50_800ep.pth') in msg
    assert 'moco_v2_800ep_pretrain.pth.tar' in msg and 'github.com/facebookresearch/moco' in msg
    assert 'tools/model_converters/mocov2_to_dbdseg.py' in msg
    assert 'model.backbone.init_cfg=None model.backbone.frozen_stages=-1' in msg


def test_frozen_backbone_without_weights_warns_loudly():
    """Issue 20 item 6: frozen and random -> a warning naming the fix; not frozen, or frozen with
    weights named, -> none."""
    model = ResNetWithStem(depth=18, frozen_stages=4, init_cfg=None)
    with pytest.warns(
            UserWarning,
            match=r'(?s)frozen_stages=4.*NO pretrained weights.*RANDOM.*'
            r'mocov2_to_dbdseg\.py.*frozen_stages=-1'):
        model.init_weights()
    assert frozen_random_message(ResNetWithStem(depth=18, init_cfg=None)) is None
    named = ResNetWithStem(
        depth=18, frozen_stages=1, init_cfg=dict(type='Pretrained', checkpoint='x.pth'))
    assert frozen_random_message(named) is None
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ResNetWithStem(depth=18, init_cfg=None).init_weights()  # nothing frozen: silent
