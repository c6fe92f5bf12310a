"""Clear errors when pretrained weights named in a config cannot be fetched.

Configs may name the standard sources a user's machine can fetch (``torchvision://resnet50``,
``open-mmlab://...``), as mmseg does (see ``docs/en/conventions.md``); when a fetch fails, the error
says which file to place where, names the explicit download URL (mmengine loads an ``http(s)://``
checkpoint through torch's hub cache without importing torchvision, which the ``torchvision://``
scheme needs), or how to train from scratch instead. A frozen backbone without pretrained weights
(frozen random layers for the whole training) is reported loudly (:data:`FROZEN_RANDOM_WARNING`).
"""
import os
import os.path as osp
import warnings
from urllib.parse import urlparse

import torch

__all__ = [
    'pretrained_source', 'pretrained_fetch_help', 'frozen_random_message', 'PretrainedErrorMixin',
    'KNOWN_URLS', 'LOCAL_FILE_HINTS'
]

#: the explicit URLs of the ``torchvision://`` weights the configs name (mmengine's torchvision
#: table, ``mmengine/hub/torchvision_0.12.json``): ``init_cfg.checkpoint`` set to the URL loads
#: through the torch hub cache (``<TORCH_HOME>/hub/checkpoints/<file>``) without torchvision
KNOWN_URLS = {
    'torchvision://resnet50': 'https://download.pytorch.org/models/resnet50-0676ba61.pth',
    'torchvision://vgg16': 'https://download.pytorch.org/models/vgg16-397923af.pth',
}

#: local checkpoint files the configs name -> where the weights come from and what makes the file
LOCAL_FILE_HINTS = {
    'mocov2_r50_800ep.pth':
    ('it holds the MoCo-v2 ResNet-50 (800 epochs; Chen et al. 2020) that A2S starts from: download '
     'moco_v2_800ep_pretrain.pth.tar from the MoCo repository (github.com/facebookresearch/moco, '
     '"Models": https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/'
     'moco_v2_800ep_pretrain.pth.tar) and convert it with python '
     'tools/model_converters/mocov2_to_dbdseg.py moco_v2_800ep_pretrain.pth.tar '
     'checkpoints/mocov2_r50_800ep.pth'),
}

#: the category of the warning for a frozen backbone without pretrained weights
FROZEN_RANDOM_WARNING = UserWarning


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

    url = KNOWN_URLS.get(checkpoint, checkpoint)
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


def pretrained_fetch_help(checkpoint, owner='model.backbone', frozen=False):
    """The message for a pretrained checkpoint that could not be read or downloaded.

    Args:
        checkpoint (str): the checkpoint as written in the config.
        owner (str): config path of the module whose ``init_cfg`` names it. Defaults to
            ``'model.backbone'``.
        frozen (bool): the module freezes (some of) its layers: training from scratch then also
            needs ``frozen_stages=-1``. Defaults to False.

    Returns:
        str: which file to place where (a relative local path is shown resolved against the
        current folder, with where the weights come from for the files of
        :data:`LOCAL_FILE_HINTS`), the explicit download URL for remote names, and how to train
        from scratch instead.
    """
    url, local = pretrained_source(checkpoint)
    if url == local:
        where = f'the file {local!r} is missing or unreadable'
        if not osp.isabs(local):
            where += (f' (a relative path: read from the folder you run in, here '
                      f'{osp.join(os.getcwd(), local)!r})')
        hint = LOCAL_FILE_HINTS.get(osp.basename(local))
        if hint:
            where += f'; {hint}'
    else:
        where = (f'download {url} on a machine with network access and place it at {local!r} '
                 f'(TORCH_HOME moves that folder). mmengine reads an http(s) URL through that '
                 f'cache without torchvision, which the {checkpoint.split("://")[0]}:// scheme '
                 f'needs: --cfg-options {owner}.init_cfg.checkpoint={url}; or set it to the '
                 f'downloaded file')
    scratch = f'{owner}.init_cfg=None'
    if frozen:
        scratch += f' {owner}.frozen_stages=-1 (a frozen encoder must not stay random)'
    return (f'cannot load the pretrained weights {checkpoint!r} of {owner}: {where}; or train from '
            f'scratch with --cfg-options {scratch}')


def frozen_random_message(module, owner='model.backbone'):
    """The warning for a module that freezes layers but loads no pretrained weights, or None.

    A module counts as frozen when its ``frozen_stages`` attribute is ``>= 0`` (mmseg's ResNet
    convention: the stem, and stages ``1..frozen_stages``). Frozen and not loaded, those layers
    keep their random initialisation for the whole training: the head learns on random
    features (A2S stage 1 freezes the whole encoder, Zhou et al. 2023, Sec. III-A).

    Args:
        module (nn.Module): the module after ``init_weights``.
        owner (str): its config path. Defaults to ``'model.backbone'``.

    Returns:
        str | None: the message, or None when nothing is frozen or weights are named.
    """
    frozen_stages = getattr(module, 'frozen_stages', -1)
    init_cfg = getattr(module, 'init_cfg', None)
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    if not isinstance(frozen_stages, int) or frozen_stages < 0 or any(
            isinstance(c, dict) and c.get('type') == 'Pretrained' for c in cfgs):
        return None
    return (f'{owner} ({type(module).__name__}) freezes its stem and stages 1..{frozen_stages} '
            f'(frozen_stages={frozen_stages}) but loads NO pretrained weights (init_cfg has no '
            f'Pretrained checkpoint): those layers stay RANDOM for the whole training unless '
            f'load_from or a checkpoint loaded afterwards overwrites them. Name the weights in '
            f'{owner}.init_cfg (A2S: checkpoints/mocov2_r50_800ep.pth, made by '
            f'tools/model_converters/mocov2_to_dbdseg.py from the MoCo-v2 release), or train the '
            f'encoder with --cfg-options {owner}.frozen_stages=-1 {owner}.norm_eval=False')


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
        file to place and where (see :func:`pretrained_fetch_help`); a frozen module without
        pretrained weights warns loudly (:func:`frozen_random_message`: logged at WARNING level
        and raised as a ``UserWarning``).

        The frozen-and-random case warns rather than refuses: it is a legitimate control arm (the
        CPU experiments' randomly initialised A2S encoder) and ``load_from`` may still overwrite
        the weights after ``init_weights``, which a module cannot see."""
        init_cfg = getattr(self, 'init_cfg', None)
        checkpoint = None
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            checkpoint = init_cfg.get('checkpoint')
        try:
            super().init_weights()
        except (OSError, RuntimeError, KeyError, ImportError) as exc:
            if checkpoint is None:
                raise
            frozen = getattr(self, 'frozen_stages', -1)
            frozen = isinstance(frozen, int) and frozen >= 0
            raise RuntimeError(
                pretrained_fetch_help(checkpoint, frozen=frozen) + f' (original error: {exc})') \
                from exc
        message = frozen_random_message(self)
        if message is not None:
            from mmengine.logging import print_log
            print_log('!' * 20 + ' ' + message, logger='current', level=30)  # WARNING
            warnings.warn(message, FROZEN_RANDOM_WARNING, stacklevel=2)
