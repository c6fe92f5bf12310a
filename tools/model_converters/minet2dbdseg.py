"""Convert a MINet-Res50 checkpoint (lartpang/MINet) into dbdseg AFIU keys.

Usage::

    python tools/model_converters/minet2dbdseg.py SRC DST [--parts backbone neck]
        [--allow-partial] [--config CFG|none [--cfg-options k=v ...]]

MINet-Res50 and AFIU (``configs/_base_/models/afiu.py``) share the ResNet-50 encoder and the AIM /
SIM blocks; the converter maps them onto ``backbone.*`` and ``neck.*`` and drops MINet's decoder
(the key mapping is :mod:`dbdseg.utils.model_conversion.minet`). A key that follows no rule, a
MINet_Res50 key missing from SRC, a target key of the converted parts not produced, or a shape that
does not fit is refused unless ``--allow-partial`` (then DST holds what fits and every gap is
printed; ``--allow-unmapped`` is its older name).

``--config`` (default: the AFIU paper config ``configs/afiu/afiu_r50_1xb8-32k_cuhk-320x320.py``;
``none`` skips the check) builds the target model on the meta device and checks a strict load of
the converted parts (every backbone / AIM / SIM key produced, every shape equal).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``; use it with
``load_from=DST`` (the whole model; the head keeps its initialisation) or as
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='neck.')`` of one part.
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_partial, add_config_args, check_and_settle,
                                           load_state_dict_file, save_checkpoint, source_gaps)
from dbdseg.utils.model_conversion.minet import PARTS, convert_minet, summary

#: the AFIU paper config (ResNet-50 + AIM/SIM neck + RSU stack), relative to configs/
DEFAULT_CONFIG = 'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'
#: target keys each part fills (AFIU's fusion convs and RSU head have no MINet counterpart)
PART_PREFIXES = dict(backbone=('backbone.', ), neck=('neck.aims.', 'neck.sims.'))


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
    add_allow_partial(parser, '--allow-unmapped')
    add_config_args(parser, 'check the converted parts against this config\'s model',
                    DEFAULT_CONFIG)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    try:
        out, report = convert_minet(src, parts=args.parts, allow_partial=True)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    prefixes = [p for part in args.parts for p in PART_PREFIXES[part]]
    out = check_and_settle(out, source_gaps(report, 'MINet_Res50'), args.config, 'minet2dbdseg',
                           args.allow_partial, args.cfg_options, prefixes)
    meta = dict(converted_from=str(args.src), converter='minet2dbdseg', parts=list(args.parts))
    save_checkpoint(args.dst, out, meta)


if __name__ == '__main__':
    main()
