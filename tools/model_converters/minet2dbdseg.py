"""Convert a MINet-Res50 checkpoint (lartpang/MINet) into dbdseg AFIU keys.

Usage::

    python tools/model_converters/minet2dbdseg.py SRC DST [--parts backbone neck]
        [--allow-unmapped] [--config CFG [--cfg-options k=v ...]]

MINet-Res50 and AFIU (``configs/_base_/models/afiu.py``) share the ResNet-50 encoder and the AIM /
SIM blocks; the converter maps them onto ``backbone.*`` and ``neck.*`` and drops MINet's decoder
(the key mapping is :mod:`dbdseg.utils.model_conversion.minet`). Keys that follow no rule are
refused unless ``--allow-unmapped`` (then they are dropped and listed).

``--config`` builds the target model (no pretrained weights) and checks that every converted key
exists there with the same shape (a strict load of the converted parts).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``; use it with
``load_from=DST`` (the whole model; the head keeps its initialisation) or as
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='neck.')`` of one part.
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_unmapped, add_config_args, check_target_shapes,
                                           load_state_dict_file, raise_problems, save_checkpoint,
                                           target_shapes_from_config)
from dbdseg.utils.model_conversion.minet import PARTS, convert_minet, summary


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
