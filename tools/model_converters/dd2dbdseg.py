"""Convert depth-distillation checkpoints (vinthony/depth-distillation) into dbdseg keys.

Usage::

    python tools/model_converters/dd2dbdseg.py SRC DST [--layout LAYOUT]
        [--config CFG [--cfg-options k=v ...]]

Three source layouts are recognised from their keys: ``resskspp`` (the released DD model on
ResNeXt-101 32x4d, ``res_best.pth``) -> ``ResNeXtWithStem`` + ``SABHead``; ``vggskspp`` (the same
decoder on VGG16) -> ``VGGWithStem`` + ``SABHead``; ``imagenet_resnext`` (the Torch7 ImageNet
ResNeXt-101 32x4d, ``resnext_101_32x4d.pth``) -> bare ``ResNeXtWithStem`` keys for
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``. The key mapping is
:mod:`dbdseg.utils.model_conversion.depth_distillation`. ``--config`` builds the target model
(meta device: no weights, no download) and checks that every target key is produced and every
shape is equal.

Output: an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` (``load_from=DST`` or
``tools/test.py CONFIG DST``).
"""
import argparse

from dbdseg.utils.model_conversion import (add_config_args, load_state_dict_file, save_checkpoint,
                                           target_shapes_from_config)
from dbdseg.utils.model_conversion.depth_distillation import (LAYOUTS, check_against_target,
                                                              convert_dd, summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='depth-distillation checkpoint (resskspp / vggskspp / ImageNet ResNeXt) -> '
        'dbdseg keys')
    parser.add_argument('src', help='res_best.pth / VGG checkpoint / resnext_101_32x4d.pth')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument('--layout', choices=LAYOUTS, help='source layout (default: from the keys)')
    add_config_args(
        parser, 'check the result against this config\'s model (strict: '
        'every key, every shape; the backbone only for imagenet_resnext)')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point; raises SystemExit with a message on an error."""
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    try:
        out, report = convert_dd(src, layout=args.layout)
    except ValueError as exc:
        raise SystemExit(f'dd2dbdseg: {exc}')
    print(summary(report, out))
    if args.config:
        target = target_shapes_from_config(
            args.config, args.cfg_options, backbone_only=report['layout'] == 'imagenet_resnext')
        problems = check_against_target(out, target)
        if problems:
            raise SystemExit(f'dd2dbdseg: the result does not fit {args.config} '
                             f'({len(problems)} problem(s)): ' + '; '.join(problems[:10]))
        print(f'checked against {args.config}: every key present, every shape equal')
    save_checkpoint(
        args.dst, out,
        dict(converted_from=str(args.src), converter='dd2dbdseg', layout=report['layout']))


if __name__ == '__main__':
    main()
