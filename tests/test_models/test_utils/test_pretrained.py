"""Pretrained weights: the error says which file to place where; placing it there works offline."""
import os
import os.path as osp
from urllib.error import URLError

import pytest
import torch

from dbdseg.models.backbones import ResNetWithStem
from dbdseg.models.utils import pretrained_fetch_help, pretrained_source


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
