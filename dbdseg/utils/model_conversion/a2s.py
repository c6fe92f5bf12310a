"""Official A2S-v1 checkpoints (moothes/A2S-USOD) -> dbdseg keys.

A2S (Zhou et al., "Activation to Saliency", TCSVT 2023) trains two networks, both ``encoder.*``
(a torchvision-layout ResNet-50 *with* its fc layer) plus ``decoder.*``: ``mnet`` in stage 1
(Sec. III-A, the transformed network with SE blocks) and ``cornet`` in stage 2 (Sec. III-B, the
saliency detector with two RAMs, Fig. 6). A leading ``model.`` or ``module.`` (``deploy.py`` /
DataParallel) and a ``{'state_dict': ...}``/``{'model': ...}`` wrapper are removed first. The stage
is detected from the decoder keys unless given.

Stage 2, ``cornet`` -> ``EncoderDecoder``/``OLREncoderDecoder`` with ``ResNetWithStem`` +
``RAMHead`` (``configs/_base_/models/a2s_stage2.py``):

=================================== ===========================================================
A2S                                 dbdseg
=================================== ===========================================================
``encoder.<name>``                  ``backbone.<name>`` (same torchvision names)
``encoder.fc.*``                    dropped: never used by cornet's forward; no fc in dbdseg
``decoder.adapter{i}.0`` / ``.1``   ``decode_head.adapters.{i}.conv`` / ``.gn``
``decoder.region.*``                ``decode_head.region_ram.*`` (RAM of H3, H4 and H5)
``decoder.local.*``                 ``decode_head.local_ram.*`` (RAM of H1, H2 and the global
                                    path)
  ``gconv.0`` / ``gconv.1``           ``global_conv.conv`` / ``global_conv.gn``
  ``res_conv1`` / ``res_conv2``       ``attn_conv1`` / ``attn_conv2`` (Eq. 9)
  ``fuse``                            ``fuse`` (Eq. 10)
``decoder.gb_conv.0`` / ``.1``      ``decode_head.global_convs.0.conv`` / ``.gn``
``decoder.gb_conv.4`` / ``.5``      ``decode_head.global_convs.1.conv`` / ``.gn``
=================================== ===========================================================

Stage 1, ``mnet`` -> ``EncoderDecoder`` with ``ResNetWithStem`` + ``ActivationHead``
(``configs/_base_/models/a2s_stage1.py``):

=================================== ===========================================================
``encoder.<name>``                  ``backbone.<name>``
``decoder.ad{2,3,4}.ad0.0`` / ``.1`` ``decode_head.level_blocks.{0,1,2}.conv`` / ``.norm``
``decoder.ad{2,3,4}.se.conv``       ``decode_head.level_blocks.{0,1,2}.se.conv``
``decoder.fusion.*``                ``decode_head.fuse_block.*`` (same inner names)
``decoder.*.se.gn.*``               dropped: built by the reference SE block but never used
``encoder.fc.bias``                 dropped: passed to the decoder but never used
``encoder.fc.weight``               with ``fc_weight_scaling``: its column sums (over the 1000
                                    classes) become ``decode_head.e5_channel_scale`` (the
                                    reference code's E5 scaling, which the paper does not
                                    describe; see ``ActivationHead(fc_weight_scaling=True)``,
                                    which the target config then needs); otherwise dropped
                                    (dbdseg's default has no such scaling)
=================================== ===========================================================

Every key is mapped or dropped with its reason; any other key, a reference key missing
(:func:`reference_spec`) or a shape other than the reference's is refused unless ``allow_partial``.
"""
import re
from collections import OrderedDict
from typing import Dict, Iterator, List, Optional, Tuple

import torch

from .common import check_target_shapes, unwrap_state_dict

__all__ = [
    'convert_a2s', 'detect_stage', 'reference_spec', 'check_against_model', 'summary', 'STAGES',
    'PAPER_CONFIGS'
]

#: The two A2S stages: 1 (``mnet``) and 2 (``cornet``).
STAGES = (1, 2)
#: the paper config of each stage (relative to ``configs/``): the default target of the check
PAPER_CONFIGS = {
    1: 'a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py',
    2: 'a2s/a2s-stage2_r50-mocov2_1xb8-25e_msra-b-320x320.py'
}

_RAM_INNER = {
    'gconv.0.': 'global_conv.conv.',
    'gconv.1.': 'global_conv.gn.',
    'res_conv1.': 'attn_conv1.',
    'res_conv2.': 'attn_conv2.',
    'fuse.': 'fuse.',
}
_GB_CONV = {
    '0': 'global_convs.0.conv.',
    '1': 'global_convs.0.gn.',
    '4': 'global_convs.1.conv.',
    '5': 'global_convs.1.gn.'
}
_MNET_LEVEL = {
    'ad2': 'level_blocks.0.',
    'ad3': 'level_blocks.1.',
    'ad4': 'level_blocks.2.',
    'fusion': 'fuse_block.'
}
_MNET_INNER = {'ad0.0.': 'conv.', 'ad0.1.': 'norm.', 'se.conv.': 'se.conv.'}

REASON_FC_STAGE2 = 'ResNet-50 classifier: never used by cornet (stage 2); ResNetWithStem has no fc'
REASON_FC_BIAS = 'ResNet-50 classifier bias: passed to mnet (stage 1) but never used'
REASON_FC_WEIGHT = ('ResNet-50 classifier weight: used only by the reference E5 scaling quirk, '
                    'which is off in dbdseg (pass --fc-weight-scaling to keep it)')
REASON_SE_GN = 'GroupNorm built by the reference SE block but never used in its forward'


# ------------------------------------------------------------------------------ reference keys
def _bn(name: str, c: int) -> Iterator[Tuple[str, tuple, str]]:
    yield f'{name}.weight', (c, ), 'param'
    yield f'{name}.bias', (c, ), 'param'
    yield f'{name}.running_mean', (c, ), 'buffer'
    yield f'{name}.running_var', (c, ), 'buffer'
    yield f'{name}.num_batches_tracked', (), 'buffer'


def _conv(name: str, cout: int, cin: int, k: int, bias: bool = True):
    yield f'{name}.weight', (cout, cin, k, k), 'param'
    if bias:
        yield f'{name}.bias', (cout, ), 'param'


def _gn(name: str, c: int):
    yield f'{name}.weight', (c, ), 'param'
    yield f'{name}.bias', (c, ), 'param'


def _resnet50(prefix: str = 'encoder.'):
    """torchvision ResNet-50 keys with fc, in state-dict order."""
    yield from _conv(prefix + 'conv1', 64, 3, 7, bias=False)
    yield from _bn(prefix + 'bn1', 64)
    inplanes = 64
    for stage, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], 1):
        for b in range(blocks):
            p = f'{prefix}layer{stage}.{b}.'
            cin = inplanes if b == 0 else planes * 4
            yield from _conv(p + 'conv1', planes, cin, 1, bias=False)
            yield from _bn(p + 'bn1', planes)
            yield from _conv(p + 'conv2', planes, planes, 3, bias=False)
            yield from _bn(p + 'bn2', planes)
            yield from _conv(p + 'conv3', planes * 4, planes, 1, bias=False)
            yield from _bn(p + 'bn3', planes * 4)
            if b == 0:
                yield from _conv(p + 'downsample.0', planes * 4, cin, 1, bias=False)
                yield from _bn(p + 'downsample.1', planes * 4)
        inplanes = planes * 4
    yield prefix + 'fc.weight', (1000, 2048), 'param'
    yield prefix + 'fc.bias', (1000, ), 'param'


def reference_spec(stage: int) -> 'OrderedDict[str, Tuple[tuple, str]]':
    """Key -> (shape, 'param'|'buffer') of the official A2S-v1 network of a stage.

    Written from the reference code (moothes/A2S-USOD@625c5590: ``mnet`` for stage 1, Sec. III-A
    of the paper; ``cornet`` for stage 2, Sec. III-B), in state-dict order. The tests pin it to
    the key lists measured from that code by a digest (``mnet``: 352 entries, 27,749,928
    parameters; ``cornet``: 368 entries, 28,397,864 parameters).

    Args:
        stage (int): 1 (``mnet``) or 2 (``cornet``).

    Returns:
        OrderedDict[str, tuple[tuple, str]]: key -> (shape, kind); shapes are tuples of ints
        (``()`` for ``num_batches_tracked``), kind ``'param'`` or ``'buffer'``.

    Raises:
        ValueError: a stage other than 1 or 2.
    """
    if stage not in STAGES:
        raise ValueError(f'stage must be 1 or 2, got {stage!r}')
    items = list(_resnet50())
    if stage == 2:
        for i, c in enumerate((64, 256, 512, 1024, 2048)):
            items += _conv(f'decoder.adapter{i}.0', 64, c, 3)
            items += _gn(f'decoder.adapter{i}.1', 64)
        for ram in ('region', 'local'):
            items += _conv(f'decoder.{ram}.gconv.0', 64, 64, 3)
            items += _gn(f'decoder.{ram}.gconv.1', 64)
            items += _conv(f'decoder.{ram}.res_conv1', 64, 64, 3)
            items += _conv(f'decoder.{ram}.res_conv2', 64, 64, 3)
            items += _conv(f'decoder.{ram}.fuse', 64, 192, 3)
        items += _conv('decoder.gb_conv.0', 128, 64, 3)
        items += _gn('decoder.gb_conv.1', 128)
        items += _conv('decoder.gb_conv.4', 64, 128, 3)
        items += _gn('decoder.gb_conv.5', 64)
    else:
        for name, c in (('ad2', 512), ('ad3', 1024), ('ad4', 2048), ('fusion', 192)):
            items += _conv(f'decoder.{name}.ad0.0', 64, c, 3)
            items += _gn(f'decoder.{name}.ad0.1', 64)
            items += _conv(f'decoder.{name}.se.conv', 64, 64, 1)
            items += _gn(f'decoder.{name}.se.gn', 64)
    return OrderedDict((k, (shape, kind)) for k, shape, kind in items)


# ------------------------------------------------------------------------------ conversion
def _unwrap(checkpoint) -> Dict[str, torch.Tensor]:
    """Remove a ``state_dict``/``model`` wrapper and a ``model.``/``module.`` key prefix."""
    return unwrap_state_dict(checkpoint, prefixes=('module.', 'model.'))


def detect_stage(state_dict: Dict[str, torch.Tensor]) -> int:
    """Which A2S network a state dict holds, from its decoder keys.

    Args:
        state_dict (dict[str, Tensor]): the loaded file (optionally wrapped / prefixed).

    Returns:
        int: 1 for ``mnet`` (``decoder.ad2.*``), 2 for ``cornet`` (``decoder.adapter0.*``).

    Raises:
        ValueError: neither decoder is recognised.
    """
    keys = list(_unwrap(state_dict))
    if any(k.startswith('decoder.adapter0.') for k in keys):
        return 2
    if any(k.startswith('decoder.ad2.') for k in keys):
        return 1
    raise ValueError('not an A2S-v1 checkpoint: no decoder.adapter0.* (stage 2, cornet) and no '
                     f'decoder.ad2.* (stage 1, mnet) keys; first keys: {keys[:5]}')


def _map_stage2(key: str) -> Tuple[str, Optional[str]]:
    """-> (kind, target or reason)."""
    if key.startswith('encoder.fc.'):
        return 'dropped', REASON_FC_STAGE2
    if key.startswith('encoder.'):
        return 'mapped', 'backbone.' + key[len('encoder.'):]
    m = re.match(r'^decoder\.adapter([0-4])\.([01])\.(weight|bias)$', key)
    if m:
        return 'mapped', f'decode_head.adapters.{m[1]}.{"conv" if m[2] == "0" else "gn"}.{m[3]}'
    m = re.match(r'^decoder\.(region|local)\.(.+)$', key)
    if m:
        for src, dst in _RAM_INNER.items():
            if m[2].startswith(src):
                return 'mapped', f'decode_head.{m[1]}_ram.{dst}{m[2][len(src):]}'
    m = re.match(r'^decoder\.gb_conv\.([0-9]+)\.(weight|bias)$', key)
    if m and m[1] in _GB_CONV:
        return 'mapped', f'decode_head.{_GB_CONV[m[1]]}{m[2]}'
    return 'unmapped', None


def _map_stage1(key: str, fc_weight_scaling: bool) -> Tuple[str, Optional[str]]:
    if key == 'encoder.fc.weight':
        return ('derived', 'decode_head.e5_channel_scale') if fc_weight_scaling else \
            ('dropped', REASON_FC_WEIGHT)
    if key == 'encoder.fc.bias':
        return 'dropped', REASON_FC_BIAS
    if key.startswith('encoder.'):
        return 'mapped', 'backbone.' + key[len('encoder.'):]
    m = re.match(r'^decoder\.(ad2|ad3|ad4|fusion)\.(.+)$', key)
    if m:
        if m[2].startswith('se.gn.'):
            return 'dropped', REASON_SE_GN
        for src, dst in _MNET_INNER.items():
            if m[2].startswith(src):
                return 'mapped', f'decode_head.{_MNET_LEVEL[m[1]]}{dst}{m[2][len(src):]}'
    return 'unmapped', None


def convert_a2s(checkpoint,
                stage: Optional[int] = None,
                fc_weight_scaling: bool = False,
                allow_partial: bool = False) -> Tuple[OrderedDict, dict]:
    """Map an official A2S-v1 state dict onto dbdseg keys (pure function, no I/O).

    Args:
        checkpoint (dict): the loaded file (state dict, optionally wrapped / prefixed).
        stage (int, optional): 1 (mnet) or 2 (cornet). Defaults to None (detected with
            :func:`detect_stage`).
        fc_weight_scaling (bool): stage 1 only: turn ``encoder.fc.weight`` (1000, 2048) into
            ``decode_head.e5_channel_scale`` = its sum over the 1000 classes ((2048,) float
            tensor). Defaults to False (the weight is dropped).
        allow_partial (bool): list the gaps (keys that follow no rule, reference keys missing,
            keys whose shape is not the reference's: none of them converted) instead of raising.
            Defaults to False.

    Returns:
        tuple: ``(state_dict, report)``; ``report`` holds ``stage``, ``mapped`` ((src, dst)
        pairs), ``derived`` ((src, dst) pairs), ``dropped`` ((key, reason) pairs), ``unmapped``
        (keys), ``missing`` (reference keys absent from the input; ``num_batches_tracked``
        buffers, absent from old checkpoints, are not listed) and ``bad_shapes`` (lines).

    Raises:
        ValueError: an unknown stage; without ``allow_partial``, unmapped keys, missing
            reference keys, or a shape that differs from the reference (all listed).
    """
    state_dict = _unwrap(checkpoint)
    stage = detect_stage(state_dict) if stage is None else stage
    if stage not in STAGES:
        raise ValueError(f'stage must be 1 or 2, got {stage!r}')
    spec = reference_spec(stage)
    out: OrderedDict = OrderedDict()
    report = dict(
        stage=stage, mapped=[], derived=[], dropped=[], unmapped=[], missing=[], bad_shapes=[])
    bad_shapes = report['bad_shapes']
    for key, value in state_dict.items():
        if key in spec and tuple(value.shape) != spec[key][0]:
            bad_shapes.append(f'{key}: {tuple(value.shape)} != reference {spec[key][0]}')
            continue
        kind, target = _map_stage2(key) if stage == 2 else _map_stage1(key, fc_weight_scaling)
        if kind == 'mapped':
            out[target] = value
            report['mapped'].append((key, target))
        elif kind == 'derived':
            out[target] = value.detach().float().sum(dim=0)
            report['derived'].append((key, target))
        elif kind == 'dropped':
            report['dropped'].append((key, target))
        else:
            report['unmapped'].append(key)
    report['missing'] = [
        k for k in spec if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    problems = []
    if report['unmapped']:
        problems.append(f'{len(report["unmapped"])} key(s) follow no A2S stage-{stage} rule: '
                        f'{report["unmapped"][:20]}')
    if report['missing']:
        problems.append(f'{len(report["missing"])} reference key(s) missing: '
                        f'{report["missing"][:20]}')
    if bad_shapes:
        problems.append(f'{len(bad_shapes)} shape(s) differ from the reference ResNet-50 '
                        f'network: {bad_shapes[:10]}')
    if problems and not allow_partial:
        raise ValueError('; '.join(problems) + ' (pass --allow-partial to convert the rest)')
    return out, report


def check_against_model(converted: Dict[str, torch.Tensor], target: Dict[str,
                                                                         torch.Size]) -> List[str]:
    """Differences between the converted keys and a model's ``{key: shape}``.

    Args:
        converted (dict[str, Tensor]): the output of :func:`convert_a2s`.
        target (dict[str, Size]): the target model's key -> shape.

    Returns:
        list[str]: missing keys, extra keys and shape mismatches; empty when a strict load
        would succeed.
    """
    return check_target_shapes(converted, target, strict=True)


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable report of a conversion (the ``report`` and state dict of
    :func:`convert_a2s`): mapped count, derived tensors, dropped keys grouped by reason."""
    lines = [f'A2S stage {report["stage"]}: mapped {len(report["mapped"])} keys']
    for src, dst in report['derived']:
        lines.append(f'derived {dst} {tuple(out[dst].shape)} from {src} (sum over classes)')
    reasons: Dict[str, List[str]] = OrderedDict()
    for key, reason in report['dropped']:
        reasons.setdefault(reason, []).append(key)
    for reason, keys in reasons.items():
        lines.append(f'dropped {len(keys)} keys ({", ".join(keys[:4])}'
                     f'{", ..." if len(keys) > 4 else ""}): {reason}')
    if report['unmapped']:
        lines.append(f'dropped {len(report["unmapped"])} unmapped keys (--allow-partial)')
    for kind, what in (('missing', 'reference keys missing'), ('bad_shapes',
                                                               'shapes not the reference\'s')):
        if report.get(kind):
            lines.append(f'{what} (--allow-partial): {len(report[kind])}')
    return '\n'.join(lines)
