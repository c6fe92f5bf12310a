#!/usr/bin/env python
"""Write teacher depth maps ``<stem>.png`` (16-bit, normalised to [0, 1]) for a folder of images.

Depth distillation (Cun & Pun, ECCV 2020, Sec. 3.1) trains the student's depth side outputs towards
the depth map a pre-trained TEACHER predicts for each training image. The paper's teacher (Chen et
al. 2016, "Depth in the Wild") is Torch7 code that dbdseg cannot run, so the targets are
precomputed files and the teacher is pluggable: any model registered in mmseg's registry (a
dbdseg/mmseg config) with a checkpoint the user supplies. The synthetic defocus renders do not need
this tool: they carry the exact depth.

Usage::

    python tools/dataset_converters/generate_depth_targets.py TEACHER_CONFIG TEACHER_CHECKPOINT \\
        --images data/cuhk_dbd/train/images --out data/cuhk_dbd/train/depth [--img-suffix .jpg]
        [--split-file FILE] [--device cpu|cuda] [--channel 0] [--activation none|sigmoid]
        [--normalize minmax|clip] [--invert] [--teacher-name NAME] [--skip-existing | --overwrite]
        [--no-progress] [--cfg-options k=v ...]

What a map holds (:class:`dbdseg.apis.inference.Teacher`, :func:`dbdseg.apis.map_targets.
normalize_depth`), what ``OUT/teacher.json`` records and how ``--skip-existing`` / ``--overwrite``
resume a folder: :func:`dbdseg.apis.map_targets.generate_depth_targets`. Configs point
``data_prefix.depth_map_path`` at OUT and name the teacher in a comment.

Exit status 0 on success, 2 on an error (message on stderr, starting with ``error:``).
"""
import argparse
import sys

from mmengine.config import DictAction

from dbdseg.apis.map_targets import generate_depth_targets
from dbdseg.datasets.conversion import ConversionError
from dbdseg.datasets.map_folders import suffix_arg
from dbdseg.utils import register_all_modules


def parse_args(argv=None):
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog='tools/dataset_converters/generate_depth_targets.py',
        description='Run a teacher model over a folder of images and write normalised 16-bit '
        'depth maps OUT/<stem>.png plus OUT/teacher.json (depth distillation targets).')
    parser.add_argument('config', help='teacher model config (any registered dbdseg/mmseg model)')
    parser.add_argument('checkpoint', help='teacher checkpoint file')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--out', required=True, help='output folder of <stem>.png depth maps')
    parser.add_argument(
        '--img-suffix', type=suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--split-file',
        default=None,
        help='file of stems (one per line, no suffix); default: every image')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--channel', type=int, default=0, help='output channel holding the depth (default 0)')
    parser.add_argument(
        '--activation',
        choices=('none', 'sigmoid'),
        default='none',
        help='applied to the raw output before normalising (default none)')
    parser.add_argument(
        '--normalize',
        choices=('minmax', 'clip'),
        default='minmax',
        help='minmax: per-image (v - min) / (max - min) (default); clip: to [0, 1]')
    parser.add_argument('--invert', action='store_true', help='write 1 - v (flip the polarity)')
    parser.add_argument(
        '--teacher-name',
        default=None,
        help='name recorded in teacher.json (default: the config file name)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        '--skip-existing',
        action='store_true',
        help='keep existing maps (same teacher and options) and write the others')
    group.add_argument('--overwrite', action='store_true', help='recompute every map')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the teacher config (key=value)')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    args = parse_args(argv)
    register_all_modules()
    try:
        generate_depth_targets(
            args.config,
            args.checkpoint,
            args.images,
            args.out,
            img_suffix=args.img_suffix,
            split_file=args.split_file,
            device=args.device,
            channel=args.channel,
            activation=args.activation,
            normalize=args.normalize,
            invert=args.invert,
            teacher_name=args.teacher_name,
            skip_existing=args.skip_existing,
            overwrite=args.overwrite,
            cfg_options=args.cfg_options,
            progress=not args.no_progress)
    except (ConversionError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
