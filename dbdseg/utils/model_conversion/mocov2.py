"""MoCo-v2 (or MoCo-v1) ResNet checkpoints -> ``ResNetWithStem`` backbone keys.

A2S (Zhou et al., TCSVT 2023, Secs. I and III-A) starts from the MoCo-v2 ResNet-50 of Chen et al.,
"Improved Baselines with Momentum Contrastive Learning", 2020, trained 800 epochs
(``moco_v2_800ep_pretrain.pth.tar`` from the MoCo repository). Its ``state_dict`` holds the query
encoder under ``module.encoder_q.`` in torchvision ResNet names (``conv1``, ``bn1``,
``layerX.Y.convZ``/``bnZ``, ``layerX.0.downsample.0/1``), which are also the names of mmseg's
``ResNet`` and so of dbdseg's ``ResNetWithStem``. :func:`convert_mocov2` therefore

* keeps ``module.encoder_q.<name>`` as ``<dst_prefix><name>`` (the backbone weights and BN
  statistics);
* drops, and lists with the reason (:data:`DROP_REASONS`):

  - ``module.encoder_q.fc.*``: MoCo's projection head (v2: MLP ``fc.0`` 2048->2048, ReLU,
    ``fc.2`` 2048->128; v1: one ``fc``), trained for the contrastive loss only; ResNetWithStem
    has no fc (A2S never uses it: the reference code's stage-1 "fc-weight scaling" reads a
    randomly initialised fc, see :mod:`dbdseg.utils.model_conversion.a2s`, and is off in dbdseg);
  - ``module.encoder_k.*``: the momentum (key) encoder, a slowly moving average of the query
    encoder; MoCo's own transfer experiments use the query encoder;
  - ``module.queue``, ``module.queue_ptr``: the queue of negative keys;

* refuses any other key ("unmapped") unless ``allow_partial``.

Keys of the query encoder missing from the source show as target keys not produced when the result
is checked against the backbone of a config (the command line does, against the A2S stage-1 paper
config by default) or with :func:`check_resnet_with_stem`.

:func:`check_resnet_with_stem` then builds ``ResNetWithStem`` of the depth the keys imply
(18/34/50/101/152, :func:`infer_resnet_depth`) and loads the converted weights with
``strict=True``.
"""
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .common import unwrap_state_dict

__all__ = [
    'convert_mocov2', 'infer_resnet_depth', 'check_resnet_with_stem', 'summary', 'DROP_REASONS',
    'PAPER_CONFIG'
]

#: the A2S stage-1 paper config, whose backbone the MoCo-v2 weights initialise (relative to
#: ``configs/``): the default target of the check
PAPER_CONFIG = 'a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py'

#: key prefix (after the ``module.`` wrapper of ``src_prefix``) -> why the key is not converted
DROP_REASONS = OrderedDict([
    ('encoder_q.fc.', 'MoCo projection head (contrastive loss only); ResNetWithStem has no fc'),
    ('encoder_k.', 'MoCo momentum (key) encoder; the query encoder is the transferred one'),
    ('queue', 'MoCo queue of negative keys'),
])

_DEPTHS = {
    (2, 2, 2, 2, False): 18,
    (3, 4, 6, 3, False): 34,
    (3, 4, 6, 3, True): 50,
    (3, 4, 23, 3, True): 101,
    (3, 8, 36, 3, True): 152,
}


def _unwrap(checkpoint) -> Dict[str, torch.Tensor]:
    """Remove a ``state_dict`` wrapper; keys keep their ``module.`` prefix (see ``src_prefix``)."""
    return unwrap_state_dict(checkpoint, wrappers=('state_dict', ), prefixes=())


def convert_mocov2(checkpoint,
                   src_prefix: str = 'module.encoder_q.',
                   dst_prefix: str = '',
                   allow_partial: bool = False) -> Tuple[OrderedDict, dict]:
    """Map a MoCo checkpoint's query encoder onto ResNetWithStem names (pure, no I/O).

    Args:
        checkpoint (dict): the loaded file: ``{'state_dict': {...}, ...}`` or the state dict.
        src_prefix (str): prefix of the query-encoder keys. Defaults to
            ``'module.encoder_q.'``.
        dst_prefix (str): prefix of the output keys ('' for a backbone ``init_cfg``,
            'backbone.' for a whole-model checkpoint). Defaults to ''.
        allow_partial (bool): list keys that follow no rule (not converted) instead of raising.
            Defaults to False.

    Returns:
        tuple: ``(state_dict, report)``. ``state_dict`` holds the same tensors under the new
        names; ``report`` has ``mapped`` ((src, dst) pairs), ``dropped`` ((key, reason) pairs)
        and ``unmapped`` (keys).

    Raises:
        ValueError: no key has ``src_prefix``; unmapped keys without ``allow_partial`` (listed).
    """
    state_dict = _unwrap(checkpoint)
    wrapper = src_prefix[:src_prefix.index('encoder_q.')] if 'encoder_q.' in src_prefix else ''
    out: OrderedDict = OrderedDict()
    report = dict(mapped=[], dropped=[], unmapped=[])
    for key, value in state_dict.items():
        inner = key[len(wrapper):] if wrapper and key.startswith(wrapper) else key
        reason = next((r for p, r in DROP_REASONS.items() if inner.startswith(p)), None)
        if reason is not None:
            report['dropped'].append((key, reason))
        elif key.startswith(src_prefix):
            target = dst_prefix + key[len(src_prefix):]
            out[target] = value
            report['mapped'].append((key, target))
        else:
            report['unmapped'].append(key)
    if not out:
        raise ValueError(f'no key starts with {src_prefix!r}: is this a MoCo checkpoint? '
                         f'(first keys: {list(state_dict)[:5]}); see --src-prefix')
    if report['unmapped'] and not allow_partial:
        raise ValueError(f'{len(report["unmapped"])} key(s) follow no MoCo -> dbdseg rule: '
                         f'{report["unmapped"][:20]}; pass --allow-partial to drop them')
    return out, report


def infer_resnet_depth(state_dict: Dict[str, torch.Tensor], prefix: str = '') -> int:
    """ResNet depth (18/34/50/101/152) from the block counts and block type of the keys.

    Args:
        state_dict (dict[str, Tensor]): torchvision-named ResNet weights.
        prefix (str): prefix of the ResNet keys. Defaults to ''.

    Returns:
        int: the depth (bottleneck blocks: 50/101/152; basic blocks: 18/34).

    Raises:
        ValueError: the keys match no standard ResNet.
    """
    counts = []
    for stage in range(1, 5):
        blocks = {
            k[len(prefix):].split('.')[1]
            for k in state_dict if k.startswith(f'{prefix}layer{stage}.')
        }
        counts.append(len(blocks))
    bottleneck = f'{prefix}layer1.0.conv3.weight' in state_dict
    depth = _DEPTHS.get((*counts, bottleneck))
    if depth is None:
        raise ValueError(f'blocks per stage {counts} (bottleneck={bottleneck}) match no '
                         f'standard ResNet depth')
    return depth


def check_resnet_with_stem(state_dict: Dict[str, torch.Tensor], prefix: str = '') -> List[str]:
    """Strict-load the converted keys into ``ResNetWithStem`` of the inferred depth.

    Args:
        state_dict (dict[str, Tensor]): the output of :func:`convert_mocov2`.
        prefix (str): its ``dst_prefix``; keys without it are ignored. Defaults to ''.

    Returns:
        list[str]: problems (missing / unexpected keys, shape mismatches); empty when the
        strict load succeeds.

    Raises:
        ValueError: the keys match no standard ResNet depth (:func:`infer_resnet_depth`).
    """
    from dbdseg.models.backbones import ResNetWithStem

    depth = infer_resnet_depth(state_dict, prefix)
    model = ResNetWithStem(depth=depth)
    sd = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    target = model.state_dict()
    problems = [f'{k}: missing' for k in target if k not in sd]
    problems += [f'{k}: not in ResNetWithStem(depth={depth})' for k in sd if k not in target]
    problems += [
        f'{k}: shape {tuple(v.shape)} != {tuple(target[k].shape)}' for k, v in sd.items()
        if k in target and v.shape != target[k].shape
    ]
    if not problems:
        model.load_state_dict(sd, strict=True)
    return problems


def summary(report: dict, out: Dict[str, torch.Tensor]) -> str:
    """Human-readable summary of :func:`convert_mocov2`'s ``report`` and state dict: mapped keys
    and values (``num_batches_tracked`` counters excluded), dropped keys per reason, unmapped
    keys."""
    n = sum(v.numel() for k, v in out.items() if not k.endswith('num_batches_tracked'))
    lines = [f'mapped {len(report["mapped"])} keys ({n:,} values)']
    reasons: Dict[str, int] = OrderedDict()
    for _, reason in report['dropped']:
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        lines.append(f'dropped {count} keys: {reason}')
    if report['unmapped']:
        lines.append(f'dropped {len(report["unmapped"])} unmapped keys (--allow-partial)')
    return '\n'.join(lines)
