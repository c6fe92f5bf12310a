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
are dropped and listed unless mapped. Keys that follow no U²-Net rule are refused unless
``allow_unmapped``.

Where the structures coincide: a stage fits an AFIU level only when (height, in, mid, out) agree.
With U²-Net-lite (every decoder stage (128, 16, 64)) and AFIU heads with ``mid_channels=16``,
``stage1d``-``stage4d`` fit levels 1-4; ``stage5d`` (input 128 = cat of two maps) does not fit
level 5 (input EC5 only, 64). The full U²-Net fits only ``stage1d`` -> level 1 (mid 16). Given the
target model's shapes, :func:`convert_u2net` checks every converted stage; a stage that does not
fit is refused unless ``skip_mismatched`` (then it is dropped and listed).
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .common import check_target_shapes, format_keys, unwrap_state_dict

__all__ = [
    'convert_u2net', 'convert_rsu_key', 'rsu_height', 'summary', 'U2NET_STAGES', 'U2NETP_STAGES',
    'U2NET_STAGE_PARAMS', 'U2NETP_STAGE_PARAMS', 'DEFAULT_STAGE_MAP'
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


def convert_u2net(state_dict: Dict[str, torch.Tensor],
                  stage_map: Optional[Dict[str, str]] = None,
                  allow_unmapped: bool = False,
                  target_shapes: Optional[Dict[str, torch.Size]] = None,
                  skip_mismatched: bool = False) -> Tuple[OrderedDict, dict]:
    """Map U²-Net / U²-Net-lite stages onto dbdseg RSU keys (pure function, no I/O).

    Args:
        state_dict (dict[str, Tensor]): U²-Net weights (optionally wrapped in ``state_dict``/
            ``model`` or prefixed ``module.``).
        stage_map (dict[str, str], optional): U²-Net stage -> dbdseg prefix ('' = bare RSU keys).
            Defaults to None (:data:`DEFAULT_STAGE_MAP`: decoder stages -> AFIU's
            ``decode_head.blocks.*``).
        allow_unmapped (bool): drop keys that follow no U²-Net rule instead of raising.
            Defaults to False.
        target_shapes (dict[str, Size], optional): the target model's key -> shape; when given,
            every converted stage must fit it key for key. Defaults to None (no check).
        skip_mismatched (bool): with ``target_shapes``, drop stages that do not fit instead of
            raising. Defaults to False.

    Returns:
        tuple: ``(new_state_dict, report)``; ``report`` has ``mapped`` ((src, dst) pairs),
        ``stages`` ({stage: (prefix, height, number of keys)}), ``dropped`` (keys of stages, sides
        and ``outconv`` not in the map), ``mismatched`` ({stage: [problems]}) and ``unmapped``.

    Raises:
        ValueError: unmapped keys without ``allow_unmapped``; a mapped stage missing from the
            checkpoint; stages that do not fit ``target_shapes`` without ``skip_mismatched``.
    """
    stage_map = OrderedDict(DEFAULT_STAGE_MAP if stage_map is None else stage_map)
    state_dict = unwrap_state_dict(state_dict)
    report = dict(
        mapped=[], stages=OrderedDict(), dropped=[], mismatched=OrderedDict(), unmapped=[])
    by_stage: Dict[str, List[str]] = OrderedDict()
    for key in state_dict:
        m = _STAGE.match(key)
        if m:
            by_stage.setdefault(m['stage'], []).append(key)
        elif _DROPPED.match(key):
            report['dropped'].append(key)
        else:
            report['unmapped'].append(key)
    missing = [s for s in stage_map if s not in by_stage]
    if missing:
        raise ValueError(f'convert_u2net: stage(s) {missing} of the map are not in the checkpoint '
                         f'(stages found: {list(by_stage)})')
    out: OrderedDict = OrderedDict()
    for stage, keys in by_stage.items():
        if stage not in stage_map:
            report['dropped'].extend(keys)
            continue
        rel = [k[len(stage) + 1:] for k in keys]
        try:
            height = rsu_height(rel)
        except ValueError:
            report['unmapped'].extend(keys)
            continue
        prefix = stage_map[stage]
        prefix = f'{prefix}.' if prefix and not prefix.endswith('.') else prefix
        converted = OrderedDict()
        for key, r in zip(keys, rel):
            new = convert_rsu_key(r, height)
            if new is None:
                report['unmapped'].append(key)
                continue
            converted[prefix + new] = (key, state_dict[key])
        if target_shapes is not None:
            problems = check_target_shapes(
                OrderedDict((k, v) for k, (_, v) in converted.items()), target_shapes)
            if problems:
                report['mismatched'][stage] = problems
                continue
        for new, (key, value) in converted.items():
            out[new] = value
            report['mapped'].append((key, new))
        report['stages'][stage] = (stage_map[stage], height, len(converted))
    if report['unmapped'] and not allow_unmapped:
        raise ValueError(
            f'convert_u2net: {len(report["unmapped"])} key(s) follow no U²-Net rule (is this a '
            f'U2NET/U2NETP checkpoint?): {format_keys(report["unmapped"])}; '
            f'pass --allow-unmapped to drop them')
    if report['mismatched'] and not skip_mismatched:
        lines = [
            f'{s}: {p[0]}' + (f' (+{len(p) - 1} more)' if len(p) > 1 else '')
            for s, p in report['mismatched'].items()
        ]
        raise ValueError('convert_u2net: stage(s) that do not fit the target model (structures '
                         'differ): ' + '; '.join(lines) + '; pass --skip-mismatched to drop them, '
                         'or change the target widths (e.g. decode_head.mid_channels)')
    return out, report


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable summary of :func:`convert_u2net`'s ``report`` and state dict: one line
    per converted or mismatched stage, then dropped and unmapped keys."""
    lines = [
        f'mapped {len(report["mapped"])} keys '
        f'({sum(v.numel() for v in out.values()):,} values):'
    ]
    for stage, (prefix, height, n) in report['stages'].items():
        lines.append(f'  {stage:<8} -> {prefix or "(bare RSU keys)":<24} RSU height {height}, '
                     f'{n} keys')
    for stage, problems in report['mismatched'].items():
        lines.append(f'  {stage:<8} does not fit the target, dropped: {problems[0]}')
    if report['dropped']:
        lines.append(f'dropped {len(report["dropped"])} keys without counterpart: ' +
                     ', '.join(sorted({k.split('.')[0]
                                       for k in report['dropped']})))
    if report['unmapped']:
        lines.append(f'unmapped (dropped, --allow-unmapped) {len(report["unmapped"])} keys: ' +
                     ', '.join(report['unmapped'][:20]))
    return '\n'.join(lines)
