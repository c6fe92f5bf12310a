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
in AFIU, whose decoder is the RSU stack: they are dropped and listed. Any other key is "unmapped";
a key of the reference layout (:func:`reference_spec`) absent from the source is "missing"; the
conversion refuses both unless ``allow_partial`` (then they are listed).
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, Optional, Tuple

import torch

from .common import format_keys, missing_reference_keys, unwrap_state_dict

__all__ = ['convert_minet', 'convert_block_key', 'reference_spec', 'summary', 'PARTS']

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
#: why MINet's decoder keys are dropped
DROP_REASON = 'MINet decoder / classifier: no AFIU counterpart (AFIU decodes with its RSU stack)'
_SIM_LEVEL = {'2': 0, '4': 1, '8': 2, '16': 3, '32': 4}
_DROPPED = re.compile(r'^(upconv\d+|classifier)\.')
_CONV = re.compile(r'^(?P<s>[hml])2(?P<d>[hml])_(?P<k>[0-3])\.(?P<rest>.+)$')
_BN = re.compile(r'^bn(?P<d>[hml])_(?P<k>[0-3])\.(?P<rest>.+)$')


# ------------------------------------------------------------------------------ reference keys
def _conv(name, cout, cin, k, bias=True):
    return [(f'{name}.weight', (cout, cin, k, k))] + ([(f'{name}.bias', (cout, ))] if bias else [])


def _bn(name, c):
    return [(f'{name}.{p}', (c, )) for p in ('weight', 'bias', 'running_mean', 'running_var')] + \
        [(f'{name}.num_batches_tracked', ())]


def _aim2(p, c_h, c_l, main, out=64):
    mid = min(c_h, c_l)
    e = _conv(f'{p}.h2h_0', mid, c_h, 3) + _conv(f'{p}.l2l_0', mid, c_l, 3)
    e += _bn(f'{p}.bnh_0', mid) + _bn(f'{p}.bnl_0', mid)
    for n in ('h2h_1', 'h2l_1', 'l2h_1', 'l2l_1'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnl_1', mid) + _bn(f'{p}.bnh_1', mid)
    if main == 'high':
        e += _conv(f'{p}.h2h_2', mid, mid, 3) + _conv(f'{p}.l2h_2', mid, mid, 3)
        e += _bn(f'{p}.bnh_2', mid) + _conv(f'{p}.h2h_3', out, mid, 3) + _bn(f'{p}.bnh_3', out)
        return e + _conv(f'{p}.identity', out, c_h, 1)
    e += _conv(f'{p}.h2l_2', mid, mid, 3) + _conv(f'{p}.l2l_2', mid, mid, 3)
    e += _bn(f'{p}.bnl_2', mid) + _conv(f'{p}.l2l_3', out, mid, 3) + _bn(f'{p}.bnl_3', out)
    return e + _conv(f'{p}.identity', out, c_l, 1)


def _aim3(p, c_h, c_m, c_l, out=64):
    mid = min(c_h, c_m, c_l)
    e = _conv(f'{p}.h2h_0', mid, c_h, 3) + _conv(f'{p}.m2m_0', mid, c_m, 3)
    e += _conv(f'{p}.l2l_0', mid, c_l, 3)
    e += _bn(f'{p}.bnh_0', mid) + _bn(f'{p}.bnm_0', mid) + _bn(f'{p}.bnl_0', mid)
    for n in ('h2h_1', 'h2m_1', 'm2h_1', 'm2m_1', 'm2l_1', 'l2m_1', 'l2l_1'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnh_1', mid) + _bn(f'{p}.bnm_1', mid) + _bn(f'{p}.bnl_1', mid)
    for n in ('h2m_2', 'l2m_2', 'm2m_2'):
        e += _conv(f'{p}.{n}', mid, mid, 3)
    e += _bn(f'{p}.bnm_2', mid) + _conv(f'{p}.m2m_3', out, mid, 3) + _bn(f'{p}.bnm_3', out)
    return e + _conv(f'{p}.identity', out, c_m, 1)


def _sim(p, hc, lc):
    e = _conv(f'{p}.h2l_0', lc, hc, 3) + _conv(f'{p}.h2h_0', hc, hc, 3)
    e += _bn(f'{p}.bnl_0', lc) + _bn(f'{p}.bnh_0', hc)
    e += _conv(f'{p}.h2h_1', hc, hc, 3) + _conv(f'{p}.h2l_1', lc, hc, 3)
    e += _conv(f'{p}.l2h_1', hc, lc, 3) + _conv(f'{p}.l2l_1', lc, lc, 3)
    e += _bn(f'{p}.bnl_1', lc) + _bn(f'{p}.bnh_1', hc)
    e += _conv(f'{p}.h2h_2', hc, hc, 3) + _conv(f'{p}.l2h_2', hc, lc, 3) + _bn(f'{p}.bnh_2', hc)
    return e


def reference_spec() -> 'OrderedDict[str, tuple]':
    """Key -> shape of the MINet_Res50 state dict (Pang et al., CVPR 2020; lartpang/MINet).

    Written from the reference code's naming scheme (ResNet-50 ``div_*`` encoder, AIMs
    ``trans.conv0..4`` (Sec. 3.2), SIM(64, 32) blocks ``sim2..32`` (Sec. 3.3), decoder
    ``upconv32..1`` and ``classifier``); the tests pin it to the key list measured from that code
    (871 entries, 162,378,305 parameters, a SHA-256 over the sorted "key [shape]" lines).

    Returns:
        OrderedDict[str, tuple]: key -> shape (``()`` for ``num_batches_tracked``).
    """
    e = _conv('div_2.0', 64, 3, 7, bias=False) + _bn('div_2.1', 64)
    inplanes = 64
    for name, blocks, planes in (('div_4.1', 3, 64), ('div_8', 4, 128), ('div_16', 6, 256),
                                 ('div_32', 3, 512)):
        for b in range(blocks):
            p = f'{name}.{b}'
            e += _conv(f'{p}.conv1', planes, inplanes, 1, False) + _bn(f'{p}.bn1', planes)
            e += _conv(f'{p}.conv2', planes, planes, 3, False) + _bn(f'{p}.bn2', planes)
            e += _conv(f'{p}.conv3', 4 * planes, planes, 1, False) + _bn(f'{p}.bn3', 4 * planes)
            if b == 0:
                e += _conv(f'{p}.downsample.0', 4 * planes, inplanes, 1, False)
                e += _bn(f'{p}.downsample.1', 4 * planes)
            inplanes = 4 * planes
    e += _aim2('trans.conv0', 64, 256, 'high')
    e += _aim3('trans.conv1', 64, 256, 512)
    e += _aim3('trans.conv2', 256, 512, 1024)
    e += _aim3('trans.conv3', 512, 1024, 2048)
    e += _aim2('trans.conv4', 1024, 2048, 'low')
    for s in (32, 16, 8, 4, 2):
        e += _sim(f'sim{s}', 64, 32)
    for n, cout, cin in (('32', 64, 64), ('16', 64, 64), ('8', 64, 64), ('4', 64, 64),
                         ('2', 32, 64), ('1', 32, 32)):
        e += _conv(f'upconv{n}.basicconv.0', cout, cin, 3, False) + _bn(
            f'upconv{n}.basicconv.1', cout)
    return OrderedDict(e + _conv('classifier', 1, 32, 1))


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
                  allow_partial: bool = False) -> Tuple[OrderedDict, dict]:
    """Map a MINet-Res50 state dict onto dbdseg AFIU keys (pure function, no I/O).

    Args:
        state_dict (dict[str, Tensor]): MINet-Res50 weights (optionally wrapped in
            ``state_dict``/``model`` or prefixed ``module.``).
        parts (Iterable[str]): which dbdseg parts to produce: ``'backbone'``, ``'neck'``.
            Keys of a part not asked for are reported under ``'skipped'``. Defaults to
            :data:`PARTS` (both).
        allow_partial (bool): list keys that follow no rule (dropped) and reference keys the
            source lacks instead of raising. Defaults to False.

    Returns:
        tuple: ``(new_state_dict, report)``; the new dict holds the same tensor objects under dbdseg
        names; ``report`` has lists ``mapped`` ((src, dst) pairs), ``dropped`` (MINet decoder keys
        without AFIU counterpart, :data:`DROP_REASON`), ``skipped`` (parts not asked for),
        ``unmapped`` and ``missing`` (keys of :func:`reference_spec` absent from the source,
        ``num_batches_tracked`` counters excepted; those of parts not asked for are not listed).

    Raises:
        ValueError: an unknown part; unmapped or missing keys without ``allow_partial`` (up to
            20 of each named); two source keys mapping to one target.
    """
    parts = tuple(parts)
    for p in parts:
        if p not in PARTS:
            raise ValueError(f'convert_minet: unknown part {p!r}; choose from {PARTS}')
    state_dict = unwrap_state_dict(state_dict)
    out: OrderedDict = OrderedDict()
    report = dict(mapped=[], dropped=[], skipped=[], unmapped=[], missing=[])
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
    report['missing'] = [
        k for k in missing_reference_keys(state_dict, reference_spec())
        if _map_key(k)[0] in parts + ('dropped', )
    ]
    problems = []
    if report['unmapped']:
        problems.append(f'{len(report["unmapped"])} key(s) follow no MINet-Res50 -> dbdseg rule '
                        f'(is this a MINet_Res50 checkpoint?): {format_keys(report["unmapped"])}')
    if report['missing']:
        problems.append(f'{len(report["missing"])} MINet_Res50 key(s) missing: '
                        f'{format_keys(report["missing"])}')
    if problems and not allow_partial:
        raise ValueError('convert_minet: ' + '; '.join(problems) +
                         '; pass --allow-partial to convert the rest')
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
        lines.append(f'unmapped (dropped, --allow-partial) {len(report["unmapped"])} keys: ' +
                     ', '.join(report['unmapped'][:20]))
    if report.get('missing'):
        lines.append(f'missing from the source (--allow-partial) {len(report["missing"])} keys')
    return '\n'.join(lines)
