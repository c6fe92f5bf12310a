"""Convert a MoCo-v2 (or MoCo-v1) ResNet checkpoint into ``ResNetWithStem`` backbone keys.

Usage::

    python tools/model_converters/mocov2_to_dbdseg.py SRC DST [--src-prefix module.encoder_q.]
        [--dst-prefix PREFIX] [--allow-unmapped] [--no-check]

A2S (Zhou et al., TCSVT 2023) uses the MoCo-v2 ResNet-50 of Chen et al. 2020, 800 epochs
(``moco_v2_800ep_pretrain.pth.tar`` from the MoCo repository; MODELS.md B.1, B.5.1). Its
``state_dict`` holds the query encoder under ``module.encoder_q.`` in torchvision ResNet names
(``conv1``, ``bn1``, ``layerX.Y.convZ``/``bnZ``, ``layerX.0.downsample.0/1``), which are also the
names of mmseg's ``ResNet`` and so of dbdseg's ``ResNetWithStem``. The converter therefore

* keeps ``module.encoder_q.<name>`` as ``<dst_prefix><name>`` (the backbone weights and BN
  statistics);
* drops, and lists with the reason:

  - ``module.encoder_q.fc.*``: MoCo's projection head (v2: MLP ``fc.0`` 2048->2048, ReLU,
    ``fc.2`` 2048->128; v1: one ``fc``), trained for the contrastive loss only; ResNetWithStem
    has no fc (A2S never uses it: its stage-1 "fc-weight scaling" reads a random fc, MODELS.md
    B.5.2, and is off in dbdseg);
  - ``module.encoder_k.*``: the momentum (key) encoder, a slowly moving average of the query
    encoder; MoCo's own transfer experiments use the query encoder;
  - ``module.queue``, ``module.queue_ptr``: the queue of negative keys;

* refuses any other key ("unmapped") unless ``--allow-unmapped``.

Then (unless ``--no-check``) it builds ``ResNetWithStem`` of the depth the keys imply (18/34/50/
101/152) and loads the converted weights with ``strict=True``: every backbone key present, every
shape equal.

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``. With the default
empty ``--dst-prefix`` it is what ``model.backbone.init_cfg=dict(type='Pretrained',
checkpoint=DST)`` expects (the A2S configs name ``checkpoints/mocov2_r50_800ep.pth``); with
``--dst-prefix backbone.`` it can be a whole-model ``load_from``.
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _model_converter_utils import (  # noqa: E402
    add_allow_unmapped, add_trust_source, load_checkpoint_file, raise_problems, save_checkpoint,
    unwrap_state_dict)

__all__ = ['convert_mocov2', 'infer_resnet_depth', 'check_resnet_with_stem', 'DROP_REASONS']

#: key prefix (after ``module.``-style wrappers are kept) -> why the key is not converted
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
                   allow_unmapped: bool = False) -> Tuple[OrderedDict, dict]:
    """Map a MoCo checkpoint's query encoder onto ResNetWithStem names (pure, no I/O).

    Args:
        checkpoint (dict): the loaded file: ``{'state_dict': {...}, ...}`` or the state dict.
        src_prefix (str): prefix of the query-encoder keys. Default: 'module.encoder_q.'.
        dst_prefix (str): prefix of the output keys ('' for a backbone ``init_cfg``,
            'backbone.' for a whole-model checkpoint). Default: ''.
        allow_unmapped (bool): drop keys that follow no rule instead of raising.

    Returns:
        tuple: ``(state_dict, report)``. ``state_dict`` holds the same tensors under the new
        names; ``report`` has ``mapped`` ((src, dst) pairs), ``dropped`` ((key, reason) pairs)
        and ``unmapped`` (keys).

    Raises:
        ValueError: no key has ``src_prefix``; unmapped keys without ``allow_unmapped`` (listed).
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
    if report['unmapped'] and not allow_unmapped:
        raise ValueError(f'{len(report["unmapped"])} key(s) follow no MoCo -> dbdseg rule: '
                         f'{report["unmapped"][:20]}; pass --allow-unmapped to drop them')
    return out, report


def infer_resnet_depth(state_dict: Dict[str, torch.Tensor], prefix: str = '') -> int:
    """ResNet depth (18/34/50/101/152) from the block counts and block type of the keys.

    Raises:
        ValueError: the keys match no standard ResNet.
    """
    counts = []
    for stage in range(1, 5):
        blocks = {k[len(prefix):].split('.')[1] for k in state_dict
                  if k.startswith(f'{prefix}layer{stage}.')}
        counts.append(len(blocks))
    bottleneck = f'{prefix}layer1.0.conv3.weight' in state_dict
    depth = _DEPTHS.get((*counts, bottleneck))
    if depth is None:
        raise ValueError(f'blocks per stage {counts} (bottleneck={bottleneck}) match no '
                         f'standard ResNet depth')
    return depth


def check_resnet_with_stem(state_dict: Dict[str, torch.Tensor], prefix: str = '') -> List[str]:
    """Strict-load the converted keys into ``ResNetWithStem`` of the inferred depth.

    Returns:
        list[str]: problems (missing / unexpected keys, shape mismatches); empty when the
        strict load succeeds.
    """
    import dbdseg  # noqa: F401  registers ResNetWithStem
    from dbdseg.models.backbones import ResNetWithStem

    depth = infer_resnet_depth(state_dict, prefix)
    model = ResNetWithStem(depth=depth)
    sd = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    target = model.state_dict()
    problems = [f'{k}: missing' for k in target if k not in sd]
    problems += [f'{k}: not in ResNetWithStem(depth={depth})' for k in sd if k not in target]
    problems += [f'{k}: shape {tuple(v.shape)} != {tuple(target[k].shape)}'
                 for k, v in sd.items() if k in target and v.shape != target[k].shape]
    if not problems:
        model.load_state_dict(sd, strict=True)
    return problems


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MoCo ResNet checkpoint -> dbdseg ResNetWithStem')
    parser.add_argument('src', help='MoCo checkpoint, e.g. moco_v2_800ep_pretrain.pth.tar')
    parser.add_argument('dst', help='output checkpoint, e.g. checkpoints/mocov2_r50_800ep.pth')
    parser.add_argument('--src-prefix', default='module.encoder_q.',
                        help='prefix of the query-encoder keys (default: module.encoder_q.)')
    parser.add_argument('--dst-prefix', default='',
                        help="prefix of the output keys: '' (backbone init_cfg, default) or "
                        "'backbone.' (whole-model load_from)")
    add_allow_unmapped(parser)
    parser.add_argument('--no-check', action='store_true',
                        help='skip the strict load into ResNetWithStem')
    add_trust_source(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.src, args.trust_source)
    try:
        out, report = convert_mocov2(checkpoint, args.src_prefix, args.dst_prefix,
                                     args.allow_unmapped)
    except ValueError as exc:
        raise SystemExit(str(exc))
    n = sum(v.numel() for k, v in out.items() if not k.endswith('num_batches_tracked'))
    print(f'mapped {len(report["mapped"])} keys ({n:,} values)')
    reasons: Dict[str, int] = OrderedDict()
    for _, reason in report['dropped']:
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        print(f'dropped {count} keys: {reason}')
    if report['unmapped']:
        print(f'dropped {len(report["unmapped"])} unmapped keys (--allow-unmapped)')
    if not args.no_check:
        problems = check_resnet_with_stem(out, args.dst_prefix)
        raise_problems(problems, 'problem(s) loading into ResNetWithStem')
        print(f'strict load into ResNetWithStem(depth='
              f'{infer_resnet_depth(out, args.dst_prefix)}) OK')
    save_checkpoint(args.dst, out, dict(converted_from=str(args.src),
                                        converter='mocov2_to_dbdseg'))


if __name__ == '__main__':
    main()
