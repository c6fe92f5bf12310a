"""Convert U²-Net / U²-Net-lite checkpoints (xuebinqin/U-2-Net) into dbdseg RSU blocks.

Usage::

    python tools/model_converters/u2net2dbdseg.py SRC DST [--map STAGE=PREFIX ...]
        [--allow-partial] [--config CFG|none [--cfg-options k=v ...]]

Every U²-Net stage is an RSU block and maps onto :class:`dbdseg.models.utils.RSU` one to one (the
key mapping is :mod:`dbdseg.utils.model_conversion.u2net`). ``--map STAGE=PREFIX`` puts a stage
under a dbdseg prefix (an empty PREFIX writes the bare RSU keys; use it with ``--config none``);
the default sends the decoder stages to AFIU's RSU stack (``stage1d -> decode_head.blocks.0`` ...
``stage5d -> decode_head.blocks.4``). Stages, side convolutions and ``outconv`` not in the map are
dropped and listed with the reason.

SRC is checked against the reference layout (U2NET or U2NETP, detected from the shapes): a key
outside it, a missing reference key or a shape other than the reference's is refused unless
``--allow-partial``. ``--config`` (default: the AFIU paper config
``configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py``; ``none`` skips the check) builds the target
model on the meta device and checks every mapped stage strictly; a stage that does not fit is
refused unless ``--allow-partial`` (then it is dropped; every gap is printed). The AFIU paper config
fits no U²-Net stage (its RSU widths are not U²-Net's): U²-Net-lite's stage1d-4d fit it with
``--cfg-options model.decode_head.mid_channels=16`` (``--skip-mismatched`` and
``--allow-unmapped`` are older names of ``--allow-partial``).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` (``load_from=DST``, or
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='decode_head.')`` on the head).
"""
import argparse
from collections import OrderedDict
from typing import Dict, List, Optional

from dbdseg.utils.model_conversion import (add_allow_partial, add_config_args, load_state_dict_file,
                                           resolve_config, save_checkpoint, settle_gaps,
                                           source_gaps, target_shapes_from_config)
from dbdseg.utils.model_conversion.u2net import convert_u2net, summary

#: the AFIU paper config (its RSU stack is the target of the default map), relative to configs/
DEFAULT_CONFIG = 'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'


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
    add_allow_partial(parser, '--allow-unmapped', '--skip-mismatched')
    add_config_args(parser, 'check every mapped stage against this config\'s model', DEFAULT_CONFIG)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    config = resolve_config(args.config)
    target = target_shapes_from_config(config, args.cfg_options) if config else None
    try:
        out, report = convert_u2net(
            src, stage_map=_parse_map(args.map), target_shapes=target, allow_partial=True)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    gaps = source_gaps(report, report['variant'])
    gaps += [
        f'{s} does not fit the target: {ps[0]}' + (f' (+{len(ps) - 1} more)' if len(ps) > 1 else '')
        for s, ps in report['mismatched'].items()
    ]
    if config is None:
        print('--config none: the result is not checked against a model')
    elif not report['mismatched']:
        print(f'checked against {config}: every mapped stage fits, every key present, every '
              f'shape equal')
    settle_gaps(gaps, args.allow_partial, 'u2net2dbdseg', config)
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
