"""MINet-Res50 checkpoints (lartpang/MINet) -> dbdseg AFIU keys.

MINet-Res50 (Pang et al., "Multi-scale Interactive Network for Salient Object Detection", CVPR
2020: AIM Sec. 3.2, SIM Sec. 3.3) and AFIU (Qian et al., "Defocus Blur Detection via Salient Region
Detection Prior", Sec. 3.2, Fig. 4; ``configs/_base_/models/afiu.py``) share the ResNet-50 encoder,
the five AIM blocks and the five SIM(64, 32) blocks. The MINet_Res50 state dict has 871 entries;
they map onto the dbdseg model as follows:

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
``out_conv`` / ``out_bn``; ``identity`` stays ``identity`` (:func:`convert_block_key`).

MINet's decoder (``upconv32`` ... ``upconv1``, BasicConv2d) and ``classifier`` have no counterpart
in AFIU, whose decoder is the RSU stack: they are dropped and listed. Any other key is "unmapped":
the conversion refuses it unless ``allow_unmapped`` (then it is dropped and listed).
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, Optional, Tuple

import torch

from .common import format_keys, unwrap_state_dict

__all__ = ['convert_minet', 'convert_block_key', 'summary', 'PARTS']

#: The dbdseg parts a MINet checkpoint provides.
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
            Keys of a part not asked for are reported under ``'skipped'``. Defaults to
            :data:`PARTS` (both).
        allow_unmapped (bool): drop keys that follow no rule instead of raising. Defaults to
            False.

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
    """Human-readable summary of :func:`convert_minet`'s ``report`` and state dict: keys per
    part (per AIM/SIM block in the neck), dropped, skipped and unmapped keys."""
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
