"""Convert a MoCo-v2 (or MoCo-v1) ResNet checkpoint into ``ResNetWithStem`` backbone keys.

Usage::

    python tools/model_converters/mocov2_to_dbdseg.py SRC DST [--src-prefix module.encoder_q.]
        [--dst-prefix PREFIX] [--allow-unmapped] [--no-check] [--trust-source]

Keeps the query encoder (``module.encoder_q.*``, torchvision ResNet names, which are those of
``ResNetWithStem``) and drops, with the reason, the projection head, the momentum encoder and the
queue (the key mapping is :mod:`dbdseg.utils.model_conversion.mocov2`); any other key is refused
unless ``--allow-unmapped``. Then (unless ``--no-check``) it builds ``ResNetWithStem`` of the depth
the keys imply (18/34/50/101/152) and loads the converted weights with ``strict=True``.

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``. With the default
empty ``--dst-prefix`` it is what ``model.backbone.init_cfg=dict(type='Pretrained',
checkpoint=DST)`` expects (the A2S configs name ``checkpoints/mocov2_r50_800ep.pth``); with
``--dst-prefix backbone.`` it can be a whole-model ``load_from``.
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_unmapped, add_trust_source,
                                           load_checkpoint_file, raise_problems, save_checkpoint)
from dbdseg.utils.model_conversion.mocov2 import (check_resnet_with_stem, convert_mocov2,
                                                  infer_resnet_depth, summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MoCo ResNet checkpoint -> dbdseg ResNetWithStem')
    parser.add_argument('src', help='MoCo checkpoint, e.g. moco_v2_800ep_pretrain.pth.tar')
    parser.add_argument('dst', help='output checkpoint, e.g. checkpoints/mocov2_r50_800ep.pth')
    parser.add_argument(
        '--src-prefix',
        default='module.encoder_q.',
        help='prefix of the query-encoder keys (default: module.encoder_q.)')
    parser.add_argument(
        '--dst-prefix',
        default='',
        help="prefix of the output keys: '' (backbone init_cfg, default) or "
        "'backbone.' (whole-model load_from)")
    add_allow_unmapped(parser)
    parser.add_argument(
        '--no-check', action='store_true', help='skip the strict load into ResNetWithStem')
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
    print(summary(report, out))
    if not args.no_check:
        problems = check_resnet_with_stem(out, args.dst_prefix)
        raise_problems(problems, 'problem(s) loading into ResNetWithStem')
        print(f'strict load into ResNetWithStem(depth='
              f'{infer_resnet_depth(out, args.dst_prefix)}) OK')
    save_checkpoint(args.dst, out, dict(converted_from=str(args.src), converter='mocov2_to_dbdseg'))


if __name__ == '__main__':
    main()
