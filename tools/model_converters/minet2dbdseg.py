"""Convert a MINet-Res50 checkpoint (lartpang/MINet) into dbdseg AFIU keys.

Usage::

    python tools/model_converters/minet2dbdseg.py SRC DST [--parts backbone neck]
        [--allow-unmapped] [--config CFG [--cfg-options k=v ...]]

MINet-Res50 (Pang et al., CVPR 2020) and AFIU (``configs/_base_/models/afiu.py``) share the
ResNet-50 encoder, the five AIM blocks and the five SIM(64, 32) blocks (MODELS.md B.2.2-B.2.4; key
list and shapes in ``reference_keys/minet_res50.txt``, 871 entries). The converter maps them onto
the dbdseg model:

================================== ==============================================================
MINet                              dbdseg (EncoderDecoder with ResNetWithStem + AIMSIMNeck)
================================== ==============================================================
``div_2.0`` / ``div_2.1``          ``backbone.conv1`` / ``backbone.bn1``
``div_4.1.*``, ``div_8.*``,        ``backbone.layer1.*`` ... ``backbone.layer4.*`` (torchvision
``div_16.*``, ``div_32.*``         bottleneck names on both sides)
``trans.conv{i}.*`` (AIM, i=0..4)  ``neck.aims.{i}.*`` (level i+1)
``sim{2,4,8,16,32}.*``             ``neck.sims.{0..4}.*`` (strides 2..32)
================================== ==============================================================

Inside the AIM/SIM blocks MINet's names ``{s}2{d}_{k}`` (conv from branch s to branch d in stage k)
and ``bn{d}_{k}`` become: stage 0 ``proj.{d}.conv`` / ``proj.{d}.bn``; stage 1
``stage1.{d}.convs.{s}`` / ``stage1.{d}.bn``; stage 2 ``stage2.convs.{s}`` / ``stage2.bn``; stage 3
``out_conv`` / ``out_bn``; ``identity`` stays ``identity``.

MINet's decoder (``upconv32`` ... ``upconv1``, BasicConv2d) and ``classifier`` have no counterpart
in AFIU, whose decoder is the RSU stack: they are dropped and listed. Any other key is "unmapped":
the converter refuses it unless ``--allow-unmapped`` is given (then it is dropped and listed).

``--config`` builds the target model (no pretrained weights) and checks that every converted key
exists there with the same shape (a strict load of the converted parts).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``; use it with
``load_from=DST`` (the whole model; the head keeps its initialisation) or as
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='neck.')`` of one part.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Iterable, Optional, Tuple

import torch

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _model_converter_utils import (  # noqa: E402
    add_allow_unmapped, add_config_args, check_target_shapes, format_keys, load_state_dict_file,
    raise_problems, save_checkpoint, target_shapes_from_config, unwrap_state_dict)

__all__ = ['convert_minet', 'convert_block_key', 'check_target_shapes', 'load_state_dict_file']

PARTS = ('backbone', 'neck')

_BACKBONE_RULES = (
    ('div_2.0.', 'backbone.conv1.'),
    ('div_2.1.', 'backbone.bn1.'),
    ('div_4.1.', 'backbone.layer1.'),
    ('div_8.', 'backbone.layer2.'),
    ('div_16.', 'backbone.layer3.'),
    ('div_32.', 'backbone.layer4.'),
)
_SIM_LEVEL = {'2': 0, '4': 1, '8': 2, '16': 3, '32': 4}
_DROPPED = re.compile(r'^(upconv\d+|classifier)\.')
_CONV = re.compile(r'^(?P<s>[hml])2(?P<d>[hml])_(?P<k>[0-3])\.(?P<rest>.+)$')
_BN = re.compile(r'^bn(?P<d>[hml])_(?P<k>[0-3])\.(?P<rest>.+)$')


def convert_block_key(key: str) -> Optional[str]:
    """Rename one key inside a MINet AIM (``conv_2nV1``/``conv_3nV1``) or SIM block.

    Args:
        key (str): the key relative to the block, e.g. ``'l2h_1.weight'``.

    Returns:
        str | None: the dbdseg key relative to :class:`AIM2`/:class:`AIM3`/:class:`SIM`
        (``'stage1.h.convs.l.weight'``), or None when the name follows none of the rules.
    """
    if key.startswith('identity.'):
        return key
    m = _CONV.match(key)
    if m:
        s, d, k, rest = m['s'], m['d'], m['k'], m['rest']
        return {
            '0': f'proj.{d}.conv.{rest}',
            '1': f'stage1.{d}.convs.{s}.{rest}',
            '2': f'stage2.convs.{s}.{rest}',
            '3': f'out_conv.{rest}',
        }[k]
    m = _BN.match(key)
    if m:
        d, k, rest = m['d'], m['k'], m['rest']
        return {
            '0': f'proj.{d}.bn.{rest}',
            '1': f'stage1.{d}.bn.{rest}',
            '2': f'stage2.bn.{rest}',
            '3': f'out_bn.{rest}',
        }[k]
    return None


def _map_key(key: str) -> Tuple[str, Optional[str]]:
    """-> (kind, target): kind 'backbone' | 'neck' | 'dropped' | 'unmapped'."""
    for src, dst in _BACKBONE_RULES:
        if key.startswith(src):
            return 'backbone', dst + key[len(src):]
    m = re.match(r'^trans\.conv(?P<i>[0-4])\.(?P<rest>.+)$', key)
    if m:
        inner = convert_block_key(m['rest'])
        return ('neck', f'neck.aims.{m["i"]}.{inner}') if inner else ('unmapped', None)
    m = re.match(r'^sim(?P<s>2|4|8|16|32)\.(?P<rest>.+)$', key)
    if m:
        inner = convert_block_key(m['rest'])
        level = _SIM_LEVEL[m['s']]
        return ('neck', f'neck.sims.{level}.{inner}') if inner else ('unmapped', None)
    if _DROPPED.match(key):
        return 'dropped', None
    return 'unmapped', None


def convert_minet(state_dict: Dict[str, torch.Tensor],
                  parts: Iterable[str] = PARTS,
                  allow_unmapped: bool = False) -> Tuple[OrderedDict, dict]:
    """Map a MINet-Res50 state dict onto dbdseg AFIU keys (pure function, no I/O).

    Args:
        state_dict (dict[str, Tensor]): MINet-Res50 weights (optionally wrapped in
            ``state_dict``/``model`` or prefixed ``module.``).
        parts (Iterable[str]): which dbdseg parts to produce: ``'backbone'``, ``'neck'``.
            Keys of a part not asked for are reported under ``'skipped'``.
        allow_unmapped (bool): drop keys that follow no rule instead of raising.

    Returns:
        tuple: ``(new_state_dict, report)``; the new dict holds the same tensor objects under dbdseg
        names; ``report`` has lists ``mapped`` ((src, dst) pairs), ``dropped`` (MINet decoder keys
        without AFIU counterpart), ``skipped`` (parts not asked for) and ``unmapped``.

    Raises:
        ValueError: an unknown part; unmapped keys without ``allow_unmapped`` (all listed); two
            source keys mapping to one target.
    """
    parts = tuple(parts)
    for p in parts:
        if p not in PARTS:
            raise ValueError(f'convert_minet: unknown part {p!r}; choose from {PARTS}')
    state_dict = unwrap_state_dict(state_dict)
    out: OrderedDict = OrderedDict()
    report = dict(mapped=[], dropped=[], skipped=[], unmapped=[])
    for key, value in state_dict.items():
        kind, target = _map_key(key)
        if kind == 'unmapped':
            report['unmapped'].append(key)
        elif kind == 'dropped':
            report['dropped'].append(key)
        elif kind not in parts:
            report['skipped'].append(key)
        else:
            if target in out:
                raise ValueError(f'convert_minet: two keys map to {target!r}')
            out[target] = value
            report['mapped'].append((key, target))
    if report['unmapped'] and not allow_unmapped:
        raise ValueError(
            f'convert_minet: {len(report["unmapped"])} key(s) follow no MINet-Res50 -> dbdseg rule '
            f'(is this a MINet_Res50 checkpoint?): {format_keys(report["unmapped"])}; '
            f'pass --allow-unmapped to drop them')
    return out, report


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable mapping summary."""
    lines = []
    groups: Dict[str, int] = {}
    for _, dst in report['mapped']:
        head = '.'.join(dst.split('.')[:3]) if dst.startswith('neck.') else dst.split('.')[0]
        groups[head] = groups.get(head, 0) + 1
    lines.append(f'mapped {len(report["mapped"])} keys '
                 f'({sum(v.numel() for v in out.values()):,} values):')
    lines += [f'  {g:<24} {n} keys' for g, n in groups.items()]
    if report['dropped']:
        lines.append(
            f'dropped {len(report["dropped"])} MINet decoder keys (no AFIU counterpart): ' +
            ', '.join(sorted({k.split('.')[0]
                              for k in report['dropped']})))
    if report['skipped']:
        lines.append(f'skipped {len(report["skipped"])} keys of parts not asked for')
    if report['unmapped']:
        lines.append(f'unmapped (dropped, --allow-unmapped) {len(report["unmapped"])} keys: ' +
                     ', '.join(report['unmapped'][:20]))
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MINet-Res50 checkpoint -> dbdseg AFIU keys')
    parser.add_argument('src', help='MINet-Res50 checkpoint (.pth state dict)')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument(
        '--parts',
        nargs='+',
        default=list(PARTS),
        choices=PARTS,
        help='dbdseg parts to write (default: backbone neck)')
    add_allow_unmapped(parser)
    add_config_args(parser, 'check every converted key against this config\'s model')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    try:
        out, report = convert_minet(src, parts=args.parts, allow_unmapped=args.allow_unmapped)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    if args.config:
        problems = check_target_shapes(out, target_shapes_from_config(args.config,
                                                                      args.cfg_options))
        raise_problems(problems, f'converted key(s) do not fit {args.config}')
        print(f'every converted key fits {args.config}')
    meta = dict(converted_from=str(args.src), converter='minet2dbdseg', parts=list(args.parts))
    save_checkpoint(args.dst, out, meta)


if __name__ == '__main__':
    main()
