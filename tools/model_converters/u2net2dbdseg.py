"""Convert U²-Net / U²-Net-lite checkpoints (xuebinqin/U-2-Net) into dbdseg RSU blocks.

Usage::

    python tools/model_converters/u2net2dbdseg.py SRC DST [--map STAGE=PREFIX ...]
        [--allow-unmapped] [--config CFG [--cfg-options k=v ...] [--skip-mismatched]]

U²-Net (``u2net.pth``, 44.0 M parameters) and U²-Net-lite (``u2netp.pth``, 1.13 M) have the same
798 key names (``reference_keys/u2net.txt``, ``u2netp.txt``); only the shapes differ. Every stage is
an RSU block (MODELS.md B.2.5) and maps onto :class:`dbdseg.models.utils.RSU` one to one:

=============================== ==============================
U²-Net (inside ``stageX``)      dbdseg ``RSU``
=============================== ==============================
``rebnconvin``                  ``conv_in``
``rebnconv{k}``, k < L          ``encoders.{k-1}``
``rebnconv{L}`` (L = height)    ``bottom``
``rebnconv{k}d``                ``decoders.{k-1}``
``.conv_s1`` / ``.bn_s1``       ``.conv`` / ``.bn``
=============================== ==============================

``--map STAGE=PREFIX`` puts a stage under a dbdseg prefix (an empty PREFIX writes the bare RSU
keys). The default map sends U²-Net's five decoder stages to AFIU's RSU stack, level by level:
``stage1d -> decode_head.blocks.0`` ... ``stage5d -> decode_head.blocks.4``. The encoder stages
(``stage1`` ... ``stage6``; AFIU's encoder is ResNet-50 + AIM/SIM), the side convolutions
``side1``-``side6`` and ``outconv`` have no counterpart there and are dropped and listed unless
mapped. Keys that follow no U²-Net rule are refused unless ``--allow-unmapped``.

Where the structures coincide: a stage fits an AFIU level only when (height, in, mid, out) agree.
With U²-Net-lite (every decoder stage (128, 16, 64)) and AFIU heads with ``mid_channels=16``,
``stage1d``-``stage4d`` fit levels 1-4; ``stage5d`` (input 128 = cat of two maps) does not fit
level 5 (input EC5 only, 64). The full U²-Net fits only ``stage1d`` -> level 1 (mid 16).
``--config`` builds the target model (no weights) and checks every converted stage; a stage that
does not fit is refused unless ``--skip-mismatched`` (then it is dropped and listed).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` (``load_from=DST``, or
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='decode_head.')`` on the head).
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _model_converter_utils import (  # noqa: E402
    add_allow_unmapped, add_config_args, check_target_shapes, format_keys, load_state_dict_file,
    save_checkpoint, target_shapes_from_config, unwrap_state_dict)

__all__ = [
    'convert_u2net', 'convert_rsu_key', 'rsu_height', 'U2NET_STAGES', 'U2NETP_STAGES',
    'DEFAULT_STAGE_MAP', 'check_target_shapes', 'load_state_dict_file'
]

#: (height, in, mid, out, dilated) of every stage, from MODELS.md B.2.5 (U²-Net model/u2net.py).
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

DEFAULT_STAGE_MAP = OrderedDict((f'stage{i}d', f'decode_head.blocks.{i - 1}') for i in range(1, 6))

_STAGE = re.compile(r'^(?P<stage>stage\d+d?)\.(?P<rest>.+)$')
_DROPPED = re.compile(r'^(side\d+|outconv)\.')
_UNIT = re.compile(r'^rebnconv(?P<k>in|\d+)(?P<d>d?)\.(?P<layer>conv_s1|bn_s1)\.(?P<p>[a-z_]+)$')


def rsu_height(stage_keys: List[str]) -> int:
    """Height L of an RSU stage from its keys relative to the stage (the largest encoder index)."""
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
            Default: :data:`DEFAULT_STAGE_MAP` (decoder stages -> AFIU's ``decode_head.blocks.*``).
        allow_unmapped (bool): drop keys that follow no U²-Net rule instead of raising.
        target_shapes (dict[str, Size], optional): the target model's key -> shape; when given,
            every converted stage must fit it key for key.
        skip_mismatched (bool): with ``target_shapes``, drop stages that do not fit instead of
            raising.

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
    """Human-readable mapping summary."""
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


def _parse_map(items: Optional[List[str]]) -> Optional[Dict[str, str]]:
    if not items:
        return None
    stage_map = OrderedDict()
    for item in items:
        if '=' not in item:
            raise SystemExit(f'--map expects STAGE=PREFIX (e.g. stage1d=decode_head.blocks.0), '
                             f'got {item!r}')
        stage, prefix = item.split('=', 1)
        stage_map[stage.strip()] = prefix.strip()
    return stage_map


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='U²-Net checkpoint -> dbdseg RSU keys')
    parser.add_argument('src', help='u2net.pth / u2netp.pth (state dict)')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument(
        '--map',
        nargs='+',
        metavar='STAGE=PREFIX',
        help='stage -> dbdseg prefix (default: stage{i}d=decode_head.blocks.{i-1})')
    add_allow_unmapped(parser, 'drop keys that follow no U²-Net rule instead of refusing the file')
    add_config_args(parser, 'check every converted stage against this config\'s model')
    parser.add_argument(
        '--skip-mismatched',
        action='store_true',
        help='with --config: drop stages that do not fit instead of refusing')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    target = target_shapes_from_config(args.config, args.cfg_options) if args.config else None
    try:
        out, report = convert_u2net(
            src,
            stage_map=_parse_map(args.map),
            allow_unmapped=args.allow_unmapped,
            target_shapes=target,
            skip_mismatched=args.skip_mismatched)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    if not out:
        raise SystemExit('nothing converted: no stage fits (see above)')
    meta = dict(
        converted_from=str(args.src),
        converter='u2net2dbdseg',
        stages={
            s: p
            for s, (p, _, _) in report['stages'].items()
        })
    save_checkpoint(args.dst, out, meta)


if __name__ == '__main__':
    main()
