"""Convert U²-Net / U²-Net-lite checkpoints (xuebinqin/U-2-Net) into dbdseg RSU blocks.

Usage::

    python tools/model_converters/u2net2dbdseg.py SRC DST [--map STAGE=PREFIX ...]
        [--allow-unmapped] [--config CFG [--cfg-options k=v ...] [--skip-mismatched]]

Every U²-Net stage is an RSU block and maps onto :class:`dbdseg.models.utils.RSU` one to one (the
key mapping is :mod:`dbdseg.utils.model_conversion.u2net`). ``--map STAGE=PREFIX`` puts a stage
under a dbdseg prefix (an empty PREFIX writes the bare RSU keys); the default sends the decoder
stages to AFIU's RSU stack (``stage1d -> decode_head.blocks.0`` ... ``stage5d ->
decode_head.blocks.4``). Stages, side convolutions and ``outconv`` not in the map are dropped and
listed; keys that follow no U²-Net rule are refused unless ``--allow-unmapped``.

``--config`` builds the target model (no weights) and checks every converted stage; a stage that
does not fit is refused unless ``--skip-mismatched`` (then it is dropped and listed).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` (``load_from=DST``, or
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='decode_head.')`` on the head).
"""
import argparse
from collections import OrderedDict
from typing import Dict, List, Optional

from dbdseg.utils.model_conversion import (add_allow_unmapped, add_config_args,
                                           load_state_dict_file, save_checkpoint,
                                           target_shapes_from_config)
from dbdseg.utils.model_conversion.u2net import convert_u2net, summary


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
