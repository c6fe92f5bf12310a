"""Depth-distillation checkpoints (vinthony/depth-distillation) -> dbdseg keys.

DD (Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2, Figs. 2-3)
is an FCN whose five decoders (``deconvK``: Selective Reception Field Block, Fig. 4) each emit a
DBD and a depth side output (``classifierK``), re-weighted by a Supervision-guided Attention Block
(``sideattK``) before the next decoder; ``fusion`` / ``fusiond`` fuse the side outputs. Three
source layouts are recognised from their keys (:func:`detect_layout`):

* ``resskspp`` -- the released DD model on ResNeXt-101 32x4d (``res_best.pth``; 909 entries,
  84,468,186 parameters) -> ``ResNeXtWithStem`` + ``SABHead`` (the configs
  ``configs/depth_distillation/dd_resnext101-32x4d_*``);
* ``vggskspp`` -- the same decoder on VGG16 (311 entries, 19,436,634 parameters) ->
  ``VGGWithStem`` + ``SABHead`` (``dd_vgg16_*``);
* ``imagenet_resnext`` -- the ImageNet ResNeXt-101 32x4d that DD (and BDRAR) start from, the
  Torch7-converted flat ``nn.Sequential`` (``resnext_101_32x4d.pth``: ``0.*`` stem conv, ``1.*`` BN,
  ``4.*``-``7.*`` stages, ``10.1.*`` classifier) -> bare ``ResNeXtWithStem`` keys (``conv1.weight``,
  ...; the classifier is dropped and listed), for
  ``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``.

Key mapping (``<b>`` = block index, ``K`` = decoder level 1..5, deepest first):

============================================ ==============================================
DD                                           dbdseg
============================================ ==============================================
``pretrained_net.layer0.0`` / ``.layer0.1``  ``backbone.conv1`` / ``backbone.bn1``
``pretrained_net.layer1.1.<b>.*``            ``backbone.layer1.<b>.*``
``pretrained_net.layer{2,3,4}.<b>.*``        ``backbone.layer{2,3,4}.<b>.*``
  in a block: ``0.0.0.{0,1,3,4}``            ``conv1``, ``bn1``, ``conv2``, ``bn2``
  ``0.0.1`` / ``0.0.2``                      ``conv3`` / ``bn3``
  ``0.1.0`` / ``0.1.1`` (first block)        ``downsample.0`` / ``downsample.1``
``pretrained_net.features.<i>``              ``backbone.features.<i>``
``deconvK.prev`` / ``.bn``                   ``decode_head.blocks.{K-1}.reduce.conv`` / ``.bn``
``deconvK.sk.convs.<j>.0`` / ``.1``          ``...blocks.{K-1}.pyramid.branches.<j>.conv`` / ``.bn``
``deconvK.sk.fc`` / ``.sk.fcs.<j>``          ``...blocks.{K-1}.pyramid.fc`` / ``.pyramid.fcs.<j>``
``deconvK.next`` / ``.bn2``                  ``...blocks.{K-1}.expand.conv`` / ``.bn``
``classifierK.sides.0`` / ``.sides.1``       ``decode_head.side_convs.{K-1}`` /
                                             ``decode_head.depth_convs.{K-1}``
``sideattK.conv1`` / ``.bn`` / ``.conv2``    ``decode_head.sabs.{K-1}.conv1.conv`` / ``conv1.bn`` /
                                             ``conv2``
``fusion`` / ``fusiond``                     ``decode_head.conv_seg`` / ``decode_head.depth_fusion``
============================================ ==============================================

Tensors are copied unchanged (the layers are the same; shapes equal one to one). A key that follows
no rule is an error unless ``allow_partial`` (the file is then not a DD checkpoint); a key of the
layout missing from the source shows as a target key not produced when the result is checked
against the layout's paper config (:data:`PAPER_CONFIGS`, what the command line does by default);
the only dropped keys are the ImageNet classifier's (:data:`DROP_REASON`). BatchNorms of old
checkpoints without ``num_batches_tracked`` get a zero counter so that the result loads with
``strict=True``. DD's
network outputs logits; dbdseg applies the sigmoid in the segmentor, so predictions match the
reference's ``sigmoid(fused)``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .common import check_target_shapes, format_keys, unwrap_state_dict

__all__ = [
    'convert_dd', 'convert_dd_key', 'detect_layout', 'check_against_target', 'summary', 'LAYOUTS',
    'PAPER_CONFIGS', 'DROP_REASON'
]

#: The recognised source layouts (see the module docstring).
LAYOUTS = ('resskspp', 'vggskspp', 'imagenet_resnext')

#: inside a Torch7 ResNeXt block (after ``<b>.``): pattern -> dbdseg name
_BLOCK_RULES = [
    (re.compile(r'^0\.0\.0\.0\.(?P<p>.+)$'), 'conv1'),
    (re.compile(r'^0\.0\.0\.1\.(?P<p>.+)$'), 'bn1'),
    (re.compile(r'^0\.0\.0\.3\.(?P<p>.+)$'), 'conv2'),
    (re.compile(r'^0\.0\.0\.4\.(?P<p>.+)$'), 'bn2'),
    (re.compile(r'^0\.0\.1\.(?P<p>.+)$'), 'conv3'),
    (re.compile(r'^0\.0\.2\.(?P<p>.+)$'), 'bn3'),
    (re.compile(r'^0\.1\.0\.(?P<p>.+)$'), 'downsample.0'),
    (re.compile(r'^0\.1\.1\.(?P<p>.+)$'), 'downsample.1'),
]
_DD_BACKBONE_STAGE = re.compile(r'^pretrained_net\.layer(?P<s>[1-4])\.(?P<rest>.+)$')
_IMAGENET_STAGE = re.compile(r'^(?P<s>[4-7])\.(?P<b>\d+)\.(?P<rest>.+)$')

_HEAD_RULES = [
    (re.compile(r'^deconv(?P<k>[1-9])\.prev\.(?P<p>.+)$'), 'blocks.{k}.reduce.conv'),
    (re.compile(r'^deconv(?P<k>[1-9])\.bn\.(?P<p>.+)$'), 'blocks.{k}.reduce.bn'),
    (re.compile(r'^deconv(?P<k>[1-9])\.next\.(?P<p>.+)$'), 'blocks.{k}.expand.conv'),
    (re.compile(r'^deconv(?P<k>[1-9])\.bn2\.(?P<p>.+)$'), 'blocks.{k}.expand.bn'),
    (re.compile(r'^deconv(?P<k>[1-9])\.sk\.convs\.(?P<j>\d+)\.0\.(?P<p>.+)$'),
     'blocks.{k}.pyramid.branches.{j}.conv'),
    (re.compile(r'^deconv(?P<k>[1-9])\.sk\.convs\.(?P<j>\d+)\.1\.(?P<p>.+)$'),
     'blocks.{k}.pyramid.branches.{j}.bn'),
    (re.compile(r'^deconv(?P<k>[1-9])\.sk\.fc\.(?P<p>.+)$'), 'blocks.{k}.pyramid.fc'),
    (re.compile(r'^deconv(?P<k>[1-9])\.sk\.fcs\.(?P<j>\d+)\.(?P<p>.+)$'),
     'blocks.{k}.pyramid.fcs.{j}'),
    (re.compile(r'^classifier(?P<k>[1-9])\.sides\.0\.(?P<p>.+)$'), 'side_convs.{k}'),
    (re.compile(r'^classifier(?P<k>[1-9])\.sides\.1\.(?P<p>.+)$'), 'depth_convs.{k}'),
    (re.compile(r'^sideatt(?P<k>[1-9])\.conv1\.(?P<p>.+)$'), 'sabs.{k}.conv1.conv'),
    (re.compile(r'^sideatt(?P<k>[1-9])\.bn\.(?P<p>.+)$'), 'sabs.{k}.conv1.bn'),
    (re.compile(r'^sideatt(?P<k>[1-9])\.conv2\.(?P<p>.+)$'), 'sabs.{k}.conv2'),
    (re.compile(r'^fusion\.(?P<p>.+)$'), 'conv_seg'),
    (re.compile(r'^fusiond\.(?P<p>.+)$'), 'depth_fusion'),
]
_IMAGENET_DROPPED = re.compile(r'^10\.')  # the ImageNet classifier (Linear 2048 -> 1000)
#: why the ImageNet classifier keys are dropped
DROP_REASON = 'ImageNet classifier (Linear 2048 -> 1000): DD and dbdseg use the encoder only'
#: the paper config of each layout (relative to ``configs/``): the default target of the check
PAPER_CONFIGS = dict(
    resskspp='depth_distillation/dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py',
    vggskspp='depth_distillation/dd_vgg16_1xb6-10k_cuhk-320x320.py',
    imagenet_resnext='depth_distillation/dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py')


def _convert_block(rest: str) -> Optional[str]:
    """``'<b>.0.0.0.3.weight'`` -> ``'<b>.conv2.weight'`` (None when no rule matches)."""
    m = re.match(r'^(?P<b>\d+)\.(?P<inner>.+)$', rest)
    if not m:
        return None
    for pattern, name in _BLOCK_RULES:
        mm = pattern.match(m['inner'])
        if mm:
            return f'{m["b"]}.{name}.{mm["p"]}'
    return None


def convert_dd_key(key: str, layout: str) -> Optional[str]:
    """Rename one key of a DD checkpoint (the table of the module docstring).

    Args:
        key (str): source key, e.g. ``'deconv3.sk.convs.1.0.weight'``.
        layout (str): one of :data:`LAYOUTS`.

    Returns:
        str | None: the dbdseg key (``'decode_head.blocks.2.pyramid.branches.1.conv.weight'``), or
        None when the key follows no rule of the layout.
    """
    if layout == 'imagenet_resnext':
        if key.startswith('0.'):
            return 'conv1.' + key[2:]
        if key.startswith('1.'):
            return 'bn1.' + key[2:]
        m = _IMAGENET_STAGE.match(key)
        if m:
            block = _convert_block(f'{m["b"]}.{m["rest"]}')
            return f'layer{int(m["s"]) - 3}.{block}' if block else None
        return None
    if key.startswith('pretrained_net.'):
        if layout == 'vggskspp':
            m = re.match(r'^pretrained_net\.features\.(?P<i>\d+)\.(?P<p>.+)$', key)
            return f'backbone.features.{m["i"]}.{m["p"]}' if m else None
        if key.startswith('pretrained_net.layer0.0.'):
            return 'backbone.conv1.' + key[len('pretrained_net.layer0.0.'):]
        if key.startswith('pretrained_net.layer0.1.'):
            return 'backbone.bn1.' + key[len('pretrained_net.layer0.1.'):]
        m = _DD_BACKBONE_STAGE.match(key)
        if not m:
            return None
        rest = m['rest']
        if m['s'] == '1':  # layer1 = Sequential(maxpool, stage): the stage is child 1
            if not rest.startswith('1.'):
                return None
            rest = rest[2:]
        block = _convert_block(rest)
        return f'backbone.layer{m["s"]}.{block}' if block else None
    for pattern, template in _HEAD_RULES:
        m = pattern.match(key)
        if m:
            groups = m.groupdict()
            fmt = {}
            if 'k' in groups:
                fmt['k'] = int(groups['k']) - 1
            if 'j' in groups:
                fmt['j'] = groups['j']
            return f'decode_head.{template.format(**fmt)}.{groups["p"]}'
    return None


def detect_layout(keys) -> str:
    """Which of :data:`LAYOUTS` a key set is.

    Args:
        keys (Iterable[str]): the state-dict keys (unwrapped).

    Returns:
        str: ``'resskspp'`` (``pretrained_net.layer0.*``), ``'vggskspp'``
        (``pretrained_net.features.*``) or ``'imagenet_resnext'`` (``0.weight`` and Torch7
        block keys ``4.<b>.0.0.0.0.weight``).

    Raises:
        ValueError: none fits (names a few keys).
    """
    keys = list(keys)
    if any(k.startswith('pretrained_net.layer0.') for k in keys):
        return 'resskspp'
    if any(k.startswith('pretrained_net.features.') for k in keys):
        return 'vggskspp'
    if '0.weight' in keys and any(re.match(r'^4\.\d+\.0\.0\.0\.0\.weight$', k) for k in keys):
        return 'imagenet_resnext'
    raise ValueError(f'not a depth-distillation checkpoint (resskspp / vggskspp) nor the Torch7 '
                     f'ImageNet ResNeXt-101 32x4d: first keys {keys[:5]}')


def convert_dd(state_dict: Dict[str, torch.Tensor],
               layout: Optional[str] = None,
               allow_partial: bool = False) -> Tuple[OrderedDict, dict]:
    """Map a DD (or its ImageNet ResNeXt) state dict onto dbdseg keys; pure function, no I/O.

    Args:
        state_dict (dict[str, Tensor]): source weights (optionally wrapped in ``state_dict`` /
            ``model``, or prefixed ``module.``).
        layout (str, optional): one of :data:`LAYOUTS`. Defaults to None
            (:func:`detect_layout`).
        allow_partial (bool): list keys that follow no rule under ``report['unmapped']`` (not
            converted) instead of raising. Defaults to False.

    Returns:
        tuple: ``(new_state_dict, report)``; ``report``: ``layout``, ``mapped`` ((src, dst)
        pairs), ``dropped`` (ImageNet classifier keys, :data:`DROP_REASON`), ``added`` (zero
        ``num_batches_tracked`` counters added for BatchNorms that lacked one), ``unmapped``.
        Reference keys missing from the source show as target keys not produced when the result
        is checked against the target model (:func:`check_against_target`; the command line
        always checks, against the paper config of the layout by default).

    Raises:
        ValueError: an unknown layout; keys that follow no rule without ``allow_partial`` (up to
            20 named); two source keys mapped onto one target.
    """
    state_dict = unwrap_state_dict(state_dict)
    layout = layout or detect_layout(state_dict.keys())
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    out: OrderedDict = OrderedDict()
    report = dict(layout=layout, mapped=[], dropped=[], added=[], unmapped=[])
    unmapped = report['unmapped']
    for key, value in state_dict.items():
        if layout == 'imagenet_resnext' and _IMAGENET_DROPPED.match(key):
            report['dropped'].append(key)
            continue
        new = convert_dd_key(key, layout)
        if new is None:
            unmapped.append(key)
            continue
        if new in out:
            raise ValueError(f'two source keys map onto {new!r} (second: {key!r})')
        out[new] = value
        report['mapped'].append((key, new))
    if unmapped and not allow_partial:
        raise ValueError(f'{len(unmapped)} key(s) follow no rule of the {layout} layout: '
                         f'{format_keys(unmapped)}')
    for key in list(out):
        if key.endswith('.running_var'):
            counter = key[:-len('running_var')] + 'num_batches_tracked'
            if counter not in out:
                out[counter] = torch.tensor(0, dtype=torch.long)
                report['added'].append(counter)
    return out, report


def check_against_target(converted: Dict[str, torch.Tensor], target: Dict[str,
                                                                          torch.Size]) -> List[str]:
    """Problems of a strict load of ``converted`` into a model with ``target`` key -> shape.

    Returns:
        list[str]: target keys not produced, produced keys the target lacks, and shapes that
        differ; empty when ``load_state_dict(strict=True)`` will succeed.
    """
    return check_target_shapes(converted, target, strict=True)


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable summary of :func:`convert_dd`'s ``report`` and state dict: mapped keys,
    parameter count (BatchNorm statistics excluded), keys per part, dropped and added keys."""
    n_params = sum(v.numel() for k, v in out.items()
                   if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')))
    parts = OrderedDict()
    for _, new in report['mapped']:
        part = new.split('.')[0] if report['layout'] != 'imagenet_resnext' else 'backbone'
        parts[part] = parts.get(part, 0) + 1
    lines = [
        f'layout {report["layout"]}: mapped {len(report["mapped"])} keys '
        f'({n_params:,} parameters) -> ' + ', '.join(f'{p}: {n}' for p, n in parts.items())
    ]
    if report['dropped']:
        lines.append(f'dropped {", ".join(report["dropped"])}: {DROP_REASON}')
    if report.get('unmapped'):
        lines.append(f'follow no rule (--allow-partial, not converted) {len(report["unmapped"])} '
                     f'keys: {format_keys(report["unmapped"])}')
    if report['added']:
        lines.append(f'added {len(report["added"])} zero num_batches_tracked counters')
    return '\n'.join(lines)
