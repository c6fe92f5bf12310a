#!/usr/bin/env python
"""Copy an images folder and a masks folder (paired by file stem) into one split of dbdseg's layout.

The generic converter for the releases that are just "images + masks" folders: ECSSD, HKU-IS,
PASCAL-S, DUT-OMRON, SOD, MSRA-B (their configs read ``data/<name>/<split>/{images,masks}``), or
any DBD/SOD set of your own. Output::

    OUT/<split>/images/<stem><img_suffix>
    OUT/<split>/masks/<stem><mask_suffix>
    OUT/conversion_report.json      (one entry per split converted into OUT; other splits kept)

Files are copied byte for byte (an upper-case suffix is written lower-case). Every image needs a
mask and every mask an image (unless ``--stems`` picks the pairs). Only ``OUT/<split>`` must be
empty, so the splits of one dataset can be converted one after the other. The work is done by
:func:`dbdseg.datasets.conversion.convert_folder_pairs`. Examples::

    python tools/dataset_converters/folder_pairs.py --images path/to/ECSSD/images \\
        --masks path/to/ECSSD/masks --out data/ecssd --split test
    python tools/dataset_converters/folder_pairs.py --images path/to/MSRA-B/images \\
        --masks path/to/MSRA-B/masks --stems train_stems.txt --out data/msra_b --split train
"""
import argparse
import re
import sys

from dbdseg.datasets.conversion import (add_common_args, convert_folder_pairs, convert_main,
                                        suffix_arg)


def _split(text):
    """``--split``: a plain folder name (letters, digits, ``_.-``), never ``.`` or ``..``."""
    if not re.fullmatch(r'[A-Za-z0-9_.-]+', text) or text in ('.', '..'):
        raise argparse.ArgumentTypeError(f'a split is a plain folder name, got {text!r}')
    return text


def parse_args(argv=None):
    """Command line of the generic converter."""
    parser = argparse.ArgumentParser(
        description='Copy an images folder and a masks folder (paired by stem) into '
        'OUT/<split>/{images,masks}.')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--masks', required=True, help='folder of masks (same stems)')
    parser.add_argument('--out', required=True, help='output dataset folder, e.g. data/ecssd')
    parser.add_argument(
        '--split', type=_split, default='test', help='split folder to write (default test)')
    parser.add_argument(
        '--img-suffix',
        type=suffix_arg,
        default=None,
        help='only images with this suffix (any case); default: detected, an error if mixed')
    parser.add_argument(
        '--mask-suffix',
        type=suffix_arg,
        default=None,
        help='only masks with this suffix (any case); default: detected, an error if mixed')
    parser.add_argument(
        '--task',
        choices=('dbd', 'sod'),
        default='sod',
        help='which polarity statistic to run: sod (white should be salient; default) or dbd '
        '(reports whether white reads as in-focus or blurred)')
    parser.add_argument(
        '--stems',
        default=None,
        help='file of the stems (or file names) to copy, one per line; default: every image')
    parser.add_argument(
        '--name', default=None, help='dataset name for the report (default: the --out folder name)')
    add_common_args(parser)
    return parser.parse_args(argv)


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    convert_folder_pairs(
        args.images,
        args.masks,
        args.out,
        split=args.split,
        img_suffix=args.img_suffix,
        mask_suffix=args.mask_suffix,
        task=args.task,
        stems_file=args.stems,
        name=args.name,
        overwrite=args.overwrite,
        polarity_samples=args.polarity_samples,
        progress=not args.no_progress)
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
