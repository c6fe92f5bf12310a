"""Parameter counts and fp32 checkpoint size of a dbdseg/mmseg model config.

Usage::

    python tools/analysis_tools/model_size.py CONFIG [--cfg-options k=v ...] [--json FILE]

Builds ``cfg.model`` on the CPU without loading any weights (``pretrained`` is ignored: no
download), then prints the number of parameters, in total and per top-level part (backbone / neck /
decode_head / auxiliary_head / anything else the segmentor owns), the trainable ones, and the size
of the model's fp32 ``state_dict`` (the size of a weights-only checkpoint) in MB (10^6 bytes) and
MiB; see :func:`dbdseg.utils.benchmark.model_size`. Used for the model-size rows of
``configs/*/README.md``.
"""
import argparse
import json

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import config_model_size, format_model_size


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Parameter counts and fp32 checkpoint size')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, as in tools/train.py')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    info = config_model_size(args.config, args.cfg_options)
    print(format_model_size(info))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(info, f, indent=2)
    return info


if __name__ == '__main__':
    main()
