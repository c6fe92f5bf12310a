"""Clear errors when pretrained weights named in a config cannot be fetched.

Configs may name the standard sources a user's machine can fetch (``torchvision://resnet50``,
``open-mmlab://...``), as mmseg does (see ``docs/en/conventions.md``); when a fetch fails, the error
says which file to place where, or how to train from scratch instead.
"""
import os.path as osp
from urllib.parse import urlparse

import torch

__all__ = ['pretrained_source', 'pretrained_fetch_help', 'PretrainedErrorMixin']


def get_torchvision_models():
    """torchvision model URLs as mmengine knows them; read from mmengine's bundled table when
    torchvision itself is not installed (mmengine's own lookup imports torchvision)."""
    try:
        from mmengine.runner.checkpoint import get_torchvision_models as _get
        return _get()
    except ImportError:
        import mmengine
        from mmengine.fileio import load
        return load(osp.join(osp.dirname(mmengine.__file__), 'hub', 'torchvision_0.12.json'))


def pretrained_source(checkpoint):
    """Resolve a checkpoint name to ``(url_or_path, local_file)``.

    Args:
        checkpoint (str): ``torchvision://NAME``, ``open-mmlab://NAME``, an ``http(s)://`` URL, or a
            local path.

    Returns:
        tuple[str, str]: the URL (or the path itself) and the file mmengine/torch would read from
        disk (``<torch hub dir>/checkpoints/<file name>`` for remote sources).
    """
    from mmengine.runner.checkpoint import get_external_models

    url = checkpoint
    for prefix, table in (('torchvision://', get_torchvision_models), ('modelzoo://',
                                                                       get_torchvision_models),
                          ('open-mmlab://', get_external_models), ('openmmlab://',
                                                                   get_external_models)):
        if checkpoint.startswith(prefix):
            url = table().get(checkpoint[len(prefix):], checkpoint)
            break
    if url.startswith(('http://', 'https://')):
        local = osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))
        return url, local
    return url, url


def pretrained_fetch_help(checkpoint, owner='model.backbone'):
    """The message for a pretrained checkpoint that could not be read or downloaded.

    Args:
        checkpoint (str): the checkpoint as written in the config.
        owner (str): config path of the module whose ``init_cfg`` names it.

    Returns:
        str: which file to place where, and how to train from scratch instead.
    """
    url, local = pretrained_source(checkpoint)
    if url == local:
        where = f'the file {local!r} is missing or unreadable'
    else:
        where = (f'download {url} on a machine with network access and place it at {local!r} '
                 '(TORCH_HOME moves that folder; the torchvision:// scheme also needs torchvision '
                 f'installed), or set {owner}.init_cfg.checkpoint to the downloaded file')
    return (f'cannot load the pretrained weights {checkpoint!r} of {owner}: {where}; or train from '
            f'scratch with --cfg-options {owner}.init_cfg=None')


class PretrainedErrorMixin:
    """``init_weights`` that turns a failed fetch of ``init_cfg=dict(type='Pretrained', ...)`` into
    an error saying which file to place where (or how to train from scratch). Mix in before the
    mmengine module class.

    Raises:
        RuntimeError: the pretrained checkpoint could not be downloaded or read (chained to the
            original error).
    """

    def init_weights(self):
        """mmengine's ``init_weights``; a failed pretrained fetch raises ``RuntimeError`` naming the
        file to place and where (see :func:`pretrained_fetch_help`)."""
        init_cfg = getattr(self, 'init_cfg', None)
        checkpoint = None
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            checkpoint = init_cfg.get('checkpoint')
        try:
            super().init_weights()
        except (OSError, RuntimeError, KeyError, ImportError) as exc:
            if checkpoint is None:
                raise
            raise RuntimeError(pretrained_fetch_help(checkpoint) + f' (original error: {exc})') \
                from exc
