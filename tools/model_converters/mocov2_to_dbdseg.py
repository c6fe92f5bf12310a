"""Convert a MoCo-v2 (or MoCo-v1) ResNet checkpoint into ``ResNetWithStem`` backbone keys.

Usage::

    python tools/model_converters/mocov2_to_dbdseg.py SRC DST [--src-prefix module.encoder_q.]
        [--dst-prefix PREFIX] [--allow-partial] [--config CFG|none [--cfg-options k=v ...]]
        [--trust-source]

Where SRC comes from: the MoCo-v2 ResNet-50 trained 800 epochs (Chen et al. 2020), the file
``moco_v2_800ep_pretrain.pth.tar`` of the MoCo repository's model table
(github.com/facebookresearch/moco, "Models"), at

https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/moco_v2_800ep_pretrain.pth.tar

The A2S configs expect the output at ``checkpoints/mocov2_r50_800ep.pth`` under the folder you run
from::

    python tools/model_converters/mocov2_to_dbdseg.py moco_v2_800ep_pretrain.pth.tar \\
        checkpoints/mocov2_r50_800ep.pth

Keeps the query encoder (``module.encoder_q.*``, torchvision ResNet names, which are those of
``ResNetWithStem``) and drops, with the reason, the projection head, the momentum encoder and the
queue (the key mapping is :mod:`dbdseg.utils.model_conversion.mocov2`). Then it checks the result
against the backbone of ``--config`` (default: the A2S stage-1 paper config; ``none`` or the older
``--no-check`` skips the check): every backbone key produced, every shape equal. A key that follows
no rule or a gap against the backbone is refused unless ``--allow-partial`` (then DST holds what
fits and every gap is printed).

The output is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}``. With the default
empty ``--dst-prefix`` it is what ``model.backbone.init_cfg=dict(type='Pretrained',
checkpoint=DST)`` expects; with ``--dst-prefix backbone.`` it can be a whole-model ``load_from``.
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_partial, add_config_args, add_trust_source,
                                           check_and_settle, load_checkpoint_file, save_checkpoint,
                                           source_gaps)
from dbdseg.utils.model_conversion.mocov2 import PAPER_CONFIG, convert_mocov2, summary


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
    add_allow_partial(parser, '--allow-unmapped')
    add_config_args(parser, 'check the result against this config\'s backbone', PAPER_CONFIG)
    parser.add_argument('--no-check', action='store_true', help='the same as --config none')
    add_trust_source(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.src, args.trust_source)
    try:
        out, report = convert_mocov2(
            checkpoint, args.src_prefix, args.dst_prefix, allow_partial=True)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    out = check_and_settle(
        out,
        source_gaps(report, 'MoCo -> dbdseg'),
        'none' if args.no_check else args.config,
        'mocov2_to_dbdseg',
        args.allow_partial,
        args.cfg_options,
        backbone_only=True,
        key_prefix=args.dst_prefix)
    save_checkpoint(args.dst, out, dict(converted_from=str(args.src), converter='mocov2_to_dbdseg'))


if __name__ == '__main__':
    main()
