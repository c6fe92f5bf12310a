"""U²-Net / U²-Net-lite checkpoints (xuebinqin/U-2-Net) -> dbdseg RSU blocks.

U²-Net (Qin et al., "U²-Net: Going Deeper with Nested U-Structure for Salient Object Detection",
Pattern Recognition 2020; ``u2net.pth``, 44.0 M parameters) and U²-Net-lite (``u2netp.pth``,
1.13 M) have the same 798 key names; only the shapes differ. Every stage is a residual U-block
(RSU, Sec. 3.1) and maps onto :class:`dbdseg.models.utils.RSU` one to one
(:func:`convert_rsu_key`):

=============================== ==============================
U²-Net (inside ``stageX``)      dbdseg ``RSU``
=============================== ==============================
``rebnconvin``                  ``conv_in``
``rebnconv{k}``, k < L          ``encoders.{k-1}``
``rebnconv{L}`` (L = height)    ``bottom``
``rebnconv{k}d``                ``decoders.{k-1}``
``.conv_s1`` / ``.bn_s1``       ``.conv`` / ``.bn``
=============================== ==============================

A stage map puts each converted stage under a dbdseg prefix (an empty prefix writes the bare RSU
keys). The default (:data:`DEFAULT_STAGE_MAP`) sends U²-Net's five decoder stages to AFIU's RSU
stack, level by level: ``stage1d -> decode_head.blocks.0`` ... ``stage5d ->
decode_head.blocks.4``. The encoder stages (``stage1`` ... ``stage6``; AFIU's encoder is ResNet-50
+ AIM/SIM), the side convolutions ``side1``-``side6`` and ``outconv`` have no counterpart there and
are dropped and listed unless mapped (:data:`DROP_REASONS`). Every source key is checked against the
reference layout of its variant (:func:`reference_spec`; name and shape): a key outside it, a
reference key missing or a shape other than the reference's is refused unless ``allow_partial``.

Where the structures coincide: a stage fits an AFIU level only when (height, in, mid, out) agree.
With U²-Net-lite (every decoder stage (128, 16, 64)) and AFIU heads with ``mid_channels=16``,
``stage1d``-``stage4d`` fit levels 1-4; ``stage5d`` (input 128 = cat of two maps) does not fit
level 5 (input EC5 only, 64). The full U²-Net fits only ``stage1d`` -> level 1 (mid 16). Given the
target model's shapes, :func:`convert_u2net` checks every converted stage; a stage that does not
fit is refused unless ``allow_partial`` (then it is dropped and listed). The AFIU paper config
(``mid_channels=(32, 32, 64, 64, 32)``) fits no stage of either variant.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .common import check_target_shapes, format_keys, missing_reference_keys, unwrap_state_dict

__all__ = [
    'convert_u2net', 'convert_rsu_key', 'rsu_height', 'summary', 'U2NET_STAGES', 'U2NETP_STAGES',
    'reference_spec', 'detect_variant', 'VARIANTS', 'DROP_REASONS', 'U2NET_STAGE_PARAMS',
    'U2NETP_STAGE_PARAMS', 'DEFAULT_STAGE_MAP'
]

#: (height, in, mid, out, dilated) of every stage of U²-Net (``U2NET`` in ``model/u2net.py`` of
#: the reference code; Qin et al. 2020, Sec. 3.2).
U2NET_STAGES = OrderedDict(
    stage1=(7, 3, 32, 64, False),
    stage2=(6, 64, 32, 128, False),
    stage3=(5, 128, 64, 256, False),
    stage4=(4, 256, 128, 512, False),
    stage5=(4, 512, 256, 512, True),
    stage6=(4, 512, 256, 512, True),
    stage5d=(4, 1024, 256, 512, True),
    stage4d=(4, 1024, 128, 256, False),
    stage3d=(5, 512, 64, 128, False),
    stage2d=(6, 256, 32, 64, False),
    stage1d=(7, 128, 16, 64, False))
#: The same for U²-Net-lite (``U2NETP``): every stage has ``mid=16`` and ``out=64``.
U2NETP_STAGES = OrderedDict(
    stage1=(7, 3, 16, 64, False),
    stage2=(6, 64, 16, 64, False),
    stage3=(5, 64, 16, 64, False),
    stage4=(4, 64, 16, 64, False),
    stage5=(4, 64, 16, 64, True),
    stage6=(4, 64, 16, 64, True),
    stage5d=(4, 128, 16, 64, True),
    stage4d=(4, 128, 16, 64, False),
    stage3d=(5, 128, 16, 64, False),
    stage2d=(6, 128, 16, 64, False),
    stage1d=(7, 128, 16, 64, False))

#: Parameter count of every stage of the official ``U2NET`` / ``U2NETP`` (built from the
#: reference code's ``model/u2net.py``); :class:`dbdseg.models.utils.RSU` with the shapes above
#: must equal them.
U2NET_STAGE_PARAMS = OrderedDict(
    stage1=206016,
    stage2=305856,
    stage3=1108992,
    stage4=3986688,
    stage5=10034688,
    stage6=10034688,
    stage5d=12393984,
    stage4d=4280064,
    stage3d=1181952,
    stage2d=323904,
    stage1d=139200)
U2NETP_STAGE_PARAMS = OrderedDict(
    stage1=67200,
    stage2=95328,
    stage3=88320,
    stage4=81312,
    stage5=81312,
    stage6=81312,
    stage5d=118176,
    stage4d=118176,
    stage3d=125184,
    stage2d=132192,
    stage1d=139200)

#: U²-Net stage -> dbdseg prefix of :func:`convert_u2net`: the decoder stages onto AFIU's RSU stack.
DEFAULT_STAGE_MAP = OrderedDict((f'stage{i}d', f'decode_head.blocks.{i - 1}') for i in range(1, 6))

_STAGE = re.compile(r'^(?P<stage>stage\d+d?)\.(?P<rest>.+)$')
_DROPPED = re.compile(r'^(side\d+|outconv)\.')
_UNIT = re.compile(r'^rebnconv(?P<k>in|\d+)(?P<d>d?)\.(?P<layer>conv_s1|bn_s1)\.(?P<p>[a-z_]+)$')


def rsu_height(stage_keys: List[str]) -> int:
    """Height L of an RSU stage from its keys relative to the stage (the largest encoder index).

    Args:
        stage_keys (list[str]): keys relative to the stage, e.g. ``'rebnconv7.conv_s1.weight'``.

    Returns:
        int: the largest ``k`` of the ``rebnconv{k}`` (encoder / bottom) keys.

    Raises:
        ValueError: no ``rebnconv{k}`` key.
    """
    ks = [int(m['k']) for m in map(_UNIT.match, stage_keys) if m and m['k'] != 'in' and not m['d']]
    if not ks:
        raise ValueError('rsu_height: no rebnconv{k} keys in this stage')
    return max(ks)


def convert_rsu_key(key: str, height: int) -> Optional[str]:
    """Rename one key inside a U²-Net RSU stage to :class:`~dbdseg.models.utils.RSU` names.

    Args:
        key (str): relative to the stage, e.g. ``'rebnconv3d.bn_s1.running_mean'``.
        height (int): the stage's height L (``rebnconv{L}`` is the bottom).

    Returns:
        str | None: e.g. ``'decoders.2.bn.running_mean'``; None when the key follows no rule.
    """
    m = _UNIT.match(key)
    if not m:
        return None
    layer = 'conv' if m['layer'] == 'conv_s1' else 'bn'
    if m['k'] == 'in':
        if m['d']:
            return None
        unit = 'conv_in'
    else:
        k = int(m['k'])
        if m['d']:
            if not 1 <= k < height:
                return None
            unit = f'decoders.{k - 1}'
        elif k == height:
            unit = 'bottom'
        elif 1 <= k < height:
            unit = f'encoders.{k - 1}'
        else:
            return None
    return f'{unit}.{layer}.{m["p"]}'


def _unit_keys(stage: str, height: int, cin: int, mid: int, cout: int):
    """(key, shape) of one RSU stage in U²-Net's names (``REBNCONV`` = conv_s1 + bn_s1)."""

    def unit(name, o, i):
        p = f'{stage}.{name}'
        return [(f'{p}.conv_s1.weight', (o, i, 3, 3)), (f'{p}.conv_s1.bias', (o, ))] + [
            (f'{p}.bn_s1.{n}', (o, )) for n in ('weight', 'bias', 'running_mean', 'running_var')
        ] + [(f'{p}.bn_s1.num_batches_tracked', ())]

    e = unit('rebnconvin', cout, cin) + unit('rebnconv1', mid, cout)
    for k in range(2, height + 1):
        e += unit(f'rebnconv{k}', mid, mid)
    for k in range(height - 1, 1, -1):
        e += unit(f'rebnconv{k}d', mid, 2 * mid)
    return e + unit('rebnconv1d', cout, 2 * mid)


#: the two reference variants: stage table and the input widths of ``side1`` ... ``side6``
VARIANTS = OrderedDict(
    u2net=(U2NET_STAGES, (64, 64, 128, 256, 512, 512)), u2netp=(U2NETP_STAGES, (64, ) * 6))
#: why the keys outside the stage map are dropped
DROP_REASONS = OrderedDict(
    stage='U²-Net stage not in the stage map (no dbdseg counterpart asked for)',
    side='U²-Net side-output conv / outconv fusion: no counterpart in AFIU (one output, one BCE)')


def reference_spec(variant: str = 'u2net') -> 'OrderedDict[str, tuple]':
    """Key -> shape of the U²-Net (``u2net``) or U²-Net-lite (``u2netp``) state dict.

    Written from :data:`U2NET_STAGES` / :data:`U2NETP_STAGES` (the reference code's
    ``model/u2net.py``; Qin et al. 2020, Sec. 3.2) in U²-Net's names; the tests pin it to the key
    lists measured from that code (798 entries each; 44,009,869 and 1,131,181 parameters).

    Args:
        variant (str): ``'u2net'`` or ``'u2netp'``. Defaults to ``'u2net'``.

    Returns:
        OrderedDict[str, tuple]: key -> shape (``()`` for ``num_batches_tracked``).

    Raises:
        ValueError: an unknown variant.
    """
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {list(VARIANTS)}, got {variant!r}')
    stages, sides = VARIANTS[variant]
    e = []
    for name, (h, cin, mid, cout, _) in stages.items():
        e += _unit_keys(name, h, cin, mid, cout)
    for i, c in enumerate(sides, start=1):
        e += [(f'side{i}.weight', (1, c, 3, 3)), (f'side{i}.bias', (1, ))]
    return OrderedDict(e + [('outconv.weight', (1, 6, 1, 1)), ('outconv.bias', (1, ))])


def detect_variant(state_dict: Dict[str, torch.Tensor]) -> str:
    """``'u2net'`` or ``'u2netp'``: the reference whose shapes more of the keys have.

    Raises:
        ValueError: no key has the name and shape of either reference.
    """
    scores = OrderedDict()
    for variant in VARIANTS:
        spec = reference_spec(variant)
        scores[variant] = sum(1 for k, v in state_dict.items()
                              if k in spec and tuple(v.shape) == spec[k])
    best = max(scores, key=scores.get)
    if not scores[best]:
        raise ValueError(f'not a U²-Net / U²-Net-lite checkpoint: no key has the name and shape '
                         f'of either (first keys: {list(state_dict)[:5]})')
    return best


def convert_u2net(state_dict: Dict[str, torch.Tensor],
                  stage_map: Optional[Dict[str, str]] = None,
                  target_shapes: Optional[Dict[str, torch.Size]] = None,
                  allow_partial: bool = False,
                  variant: Optional[str] = None) -> Tuple[OrderedDict, dict]:
    """Map U²-Net / U²-Net-lite stages onto dbdseg RSU keys (pure function, no I/O).

    Every source key is checked against the reference layout (:func:`reference_spec` of the
    variant): its name and shape must be the reference's, and every reference key must be there.
    Each stage's height comes from the reference table, never from the keys (a stray key cannot
    change it).

    Args:
        state_dict (dict[str, Tensor]): U²-Net weights (optionally wrapped in ``state_dict``/
            ``model`` or prefixed ``module.``).
        stage_map (dict[str, str], optional): U²-Net stage -> dbdseg prefix ('' = bare RSU keys).
            Defaults to None (:data:`DEFAULT_STAGE_MAP`: decoder stages -> AFIU's
            ``decode_head.blocks.*``).
        target_shapes (dict[str, Size], optional): the target model's key -> shape; when given,
            every converted stage must fit it strictly (every key under its prefix produced,
            every shape equal). Defaults to None (no check).
        allow_partial (bool): list the gaps (unknown keys, missing reference keys, shapes other
            than the reference's, stages that do not fit the target) and convert the rest instead
            of raising. Defaults to False.
        variant (str, optional): ``'u2net'`` or ``'u2netp'``. Defaults to None
            (:func:`detect_variant`).

    Returns:
        tuple: ``(new_state_dict, report)``; ``report`` has ``variant``, ``mapped`` ((src, dst)
        pairs), ``stages`` ({stage: (prefix, height, number of keys)}), ``dropped`` ((key,
        reason) pairs: stages not in the map, side convs, ``outconv``), ``mismatched`` ({stage:
        [problems]}), ``unmapped`` (keys not in the reference), ``missing`` (reference keys
        absent) and ``bad_shapes`` (lines).

    Raises:
        ValueError: a stage of the map that the reference lacks; without ``allow_partial``, any
            gap listed above (up to 20 of each kind named).
    """
    stage_map = OrderedDict(DEFAULT_STAGE_MAP if stage_map is None else stage_map)
    state_dict = unwrap_state_dict(state_dict)
    variant = variant or detect_variant(state_dict)
    spec = reference_spec(variant)
    stages = VARIANTS[variant][0]
    unknown = [s for s in stage_map if s not in stages]
    if unknown:
        raise ValueError(f'convert_u2net: stage(s) {unknown} of the map are not U²-Net stages '
                         f'(stages: {list(stages)})')
    report = dict(
        variant=variant,
        mapped=[],
        stages=OrderedDict(),
        dropped=[],
        mismatched=OrderedDict(),
        unmapped=[],
        missing=missing_reference_keys(state_dict, spec),
        bad_shapes=[])
    by_stage: Dict[str, List[str]] = OrderedDict()
    for key, value in state_dict.items():
        if key not in spec:
            report['unmapped'].append(key)
            continue
        if tuple(value.shape) != spec[key]:
            report['bad_shapes'].append(f'{key}: shape {tuple(value.shape)} != {variant} '
                                        f'reference {spec[key]}')
            continue
        m = _STAGE.match(key)
        if not m:
            report['dropped'].append((key, DROP_REASONS['side']))
        elif m['stage'] not in stage_map:
            report['dropped'].append((key, DROP_REASONS['stage']))
        else:
            by_stage.setdefault(m['stage'], []).append(key)
    out: OrderedDict = OrderedDict()
    for stage in stage_map:
        keys = by_stage.get(stage, [])
        height = stages[stage][0]
        prefix = stage_map[stage]
        prefix = f'{prefix}.' if prefix and not prefix.endswith('.') else prefix
        converted = OrderedDict(
            (prefix + convert_rsu_key(k[len(stage) + 1:], height), k) for k in keys)
        if target_shapes is not None:
            problems = check_target_shapes(
                OrderedDict((k, state_dict[v]) for k, v in converted.items()), target_shapes)
            problems += [
                f'{k}: target key not produced' for k in target_shapes
                if prefix and k.startswith(prefix) and k not in converted
            ]
            if problems:
                report['mismatched'][stage] = problems
                continue
        for new, key in converted.items():
            out[new] = state_dict[key]
            report['mapped'].append((key, new))
        report['stages'][stage] = (stage_map[stage], height, len(converted))
    problems = []
    for kind, what in (('unmapped', 'key(s) not in the {v} reference layout'),
                       ('missing', '{v} reference key(s) missing'),
                       ('bad_shapes', 'shape(s) differ from the {v} reference')):
        if report[kind]:
            problems.append(f'{len(report[kind])} {what.format(v=variant)}: '
                            f'{format_keys(report[kind])}')
    if report['mismatched']:
        problems.append('stage(s) that do not fit the target model (structures differ): ' +
                        '; '.join(f'{s}: {p[0]}' + (f' (+{len(p) - 1} more)' if len(p) > 1 else '')
                                  for s, p in report['mismatched'].items()) +
                        ' (change the target widths, e.g. decode_head.mid_channels, or the map)')
    if problems and not allow_partial:
        raise ValueError('convert_u2net: ' + '; '.join(problems) +
                         '; pass --allow-partial to convert the rest')
    return out, report


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable summary of :func:`convert_u2net`'s ``report`` and state dict: one line
    per converted or mismatched stage, then dropped and unmapped keys."""
    lines = [
        f'{report["variant"]}: mapped {len(report["mapped"])} keys '
        f'({sum(v.numel() for v in out.values()):,} values):'
    ]
    for stage, (prefix, height, n) in report['stages'].items():
        lines.append(f'  {stage:<8} -> {prefix or "(bare RSU keys)":<24} RSU height {height}, '
                     f'{n} keys')
    for stage, problems in report['mismatched'].items():
        lines.append(f'  {stage:<8} does not fit the target, dropped: {problems[0]}')
    reasons: Dict[str, List[str]] = OrderedDict()
    for key, reason in report['dropped']:
        reasons.setdefault(reason, []).append(key.split('.')[0])
    for reason, heads in reasons.items():
        lines.append(f'dropped {len(heads)} keys ({", ".join(sorted(set(heads)))}): {reason}')
    for kind, what in (('unmapped', 'not in the reference layout'),
                       ('missing', 'reference keys missing'), ('bad_shapes',
                                                               'shapes not the reference\'s')):
        if report.get(kind):
            lines.append(f'{what} (--allow-partial): {len(report[kind])}: ' +
                         ', '.join(report[kind][:20]))
    return '\n'.join(lines)
