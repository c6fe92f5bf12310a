"""Convert depth-distillation checkpoints (vinthony/depth-distillation) into dbdseg keys.

Usage::

    python tools/model_converters/dd2dbdseg.py SRC DST [--layout LAYOUT] [--allow-partial]
        [--config CFG|none [--cfg-options k=v ...]]

Three source layouts are recognised from their keys: ``resskspp`` (the released DD model on
ResNeXt-101 32x4d, ``res_best.pth``) -> ``ResNeXtWithStem`` + ``SABHead``; ``vggskspp`` (the same
decoder on VGG16) -> ``VGGWithStem`` + ``SABHead``; ``imagenet_resnext`` (the Torch7 ImageNet
ResNeXt-101 32x4d, ``resnext_101_32x4d.pth``) -> bare ``ResNeXtWithStem`` keys for
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=DST)``. The key mapping is
:mod:`dbdseg.utils.model_conversion.depth_distillation`.

The result is always checked against a target model built on the meta device (no weights, no
download): ``--config`` (default: the layout's paper config, ``dd_resnext101-32x4d_1xb6-10k_cuhk``
for resskspp and imagenet_resnext (its backbone), ``dd_vgg16_1xb6-10k_cuhk`` for vggskspp; ``none``
skips the check). A key that follows no rule, a target key not produced (a key missing from SRC)
or a shape that differs is refused unless ``--allow-partial`` (then DST holds what fits and every
gap is printed).

Output: an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` (``load_from=DST`` or
``tools/test.py CONFIG DST``).
"""
import argparse

from dbdseg.utils.model_conversion import (add_allow_partial, add_config_args, check_and_settle,
                                           load_state_dict_file, save_checkpoint, source_gaps)
from dbdseg.utils.model_conversion.depth_distillation import (LAYOUTS, PAPER_CONFIGS, convert_dd,
                                                              summary)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='depth-distillation checkpoint (resskspp / vggskspp / ImageNet ResNeXt) -> '
        'dbdseg keys')
    parser.add_argument('src', help='res_best.pth / VGG checkpoint / resnext_101_32x4d.pth')
    parser.add_argument('dst', help='output mmengine checkpoint')
    parser.add_argument('--layout', choices=LAYOUTS, help='source layout (default: from the keys)')
    add_allow_partial(parser)
    add_config_args(
        parser, 'check the result against this config\'s model (strict: every key, every '
        'shape; the backbone only for imagenet_resnext; default: the paper config of the layout, '
        '"none": no check)')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point; raises SystemExit with a message on an error."""
    args = parse_args(argv)
    src = load_state_dict_file(args.src)
    try:
        out, report = convert_dd(src, layout=args.layout, allow_partial=True)
    except ValueError as exc:
        raise SystemExit(f'dd2dbdseg: {exc}')
    print(summary(report, out))
    layout = report['layout']
    out = check_and_settle(
        out,
        source_gaps(report, f'{layout} layout'),
        args.config or PAPER_CONFIGS[layout],
        'dd2dbdseg',
        args.allow_partial,
        args.cfg_options,
        backbone_only=layout == 'imagenet_resnext')
    save_checkpoint(args.dst, out,
                    dict(converted_from=str(args.src), converter='dd2dbdseg', layout=layout))


if __name__ == '__main__':
    main()
