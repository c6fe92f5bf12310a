"""Convert official A2S-v1 checkpoints (moothes/A2S-USOD) into dbdseg keys.

Usage::

    python tools/model_converters/a2s2dbdseg.py SRC DST [--stage auto|1|2] [--fc-weight-scaling]
        [--allow-partial] [--config CFG|none [--cfg-options k=v ...]] [--trust-source]

Stage 1 (``mnet``) becomes ``ResNetWithStem`` + ``ActivationHead``
(``configs/_base_/models/a2s_stage1.py``), stage 2 (``cornet``) ``ResNetWithStem`` + ``RAMHead``
(``configs/_base_/models/a2s_stage2.py``); the stage is detected from the keys unless ``--stage``
says it. The key mapping (every key mapped or dropped with its reason) is
:mod:`dbdseg.utils.model_conversion.a2s`. A key that follows no rule, a reference key missing from
SRC, a shape other than the reference's, a target key not produced or a key the target lacks is
refused unless ``--allow-partial`` (then DST holds what fits and every gap is printed;
``--allow-unmapped`` is its older name). ``--config`` (default: the stage's paper config,
``configs/a2s/a2s-stage{1,2}_r50-mocov2_*_msra-b-320x320.py``, with
``model.decode_head.fc_weight_scaling=True`` added for ``--fc-weight-scaling``; ``none`` skips the
check) builds the target model on the meta device and checks that the converted keys are exactly
the model's keys with equal shapes. The output is an mmengine checkpoint
``{'state_dict': ..., 'meta': {...}}`` for ``load_from`` or ``tools/test.py``.
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_partial, add_config_args, add_trust_source,
                                           check_and_settle, load_checkpoint_file, save_checkpoint,
                                           source_gaps)
from dbdseg.utils.model_conversion.a2s import PAPER_CONFIGS, convert_a2s, summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='A2S-v1 checkpoint -> dbdseg keys')
    parser.add_argument('src', help='official A2S checkpoint (stage 1 mnet or stage 2 cornet)')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument(
        '--stage',
        choices=('auto', '1', '2'),
        default='auto',
        help='which network SRC holds (default: detected from the keys)')
    parser.add_argument(
        '--fc-weight-scaling',
        action='store_true',
        help='stage 1: keep the reference E5 scaling (needs '
        'decode_head.fc_weight_scaling=True in the config)')
    add_allow_partial(parser, '--allow-unmapped')
    add_config_args(
        parser, 'check the converted keys against this config\'s model (default: the paper '
        'config of the stage; "none": no check)')
    add_trust_source(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = load_checkpoint_file(args.src, args.trust_source)
    stage = None if args.stage == 'auto' else int(args.stage)
    try:
        out, report = convert_a2s(checkpoint, stage, args.fc_weight_scaling, allow_partial=True)
    except ValueError as exc:
        raise SystemExit(str(exc))
    print(summary(report, out))
    cfg_options = dict(args.cfg_options or {})
    if args.config is None and args.fc_weight_scaling:  # the paper config, with the quirk on
        cfg_options['model.decode_head.fc_weight_scaling'] = True
    out = check_and_settle(out, source_gaps(report, f'A2S stage-{report["stage"]}'), args.config
                           or PAPER_CONFIGS[report['stage']], 'a2s2dbdseg', args.allow_partial,
                           cfg_options)
    save_checkpoint(
        args.dst, out,
        dict(converted_from=str(args.src), converter='a2s2dbdseg', stage=report['stage']))


if __name__ == '__main__':
    main()
