#!/usr/bin/env python
"""Convert the CUHK blur detection release (Shi et al., CVPR 2014) to dbdseg's DBD layout.

The release holds 1000 partially blurred images: 296 ``motionNNNN`` and 704 ``out_of_focusNNNN``.
Only the 704 defocus images are defocus blur detection data. Expected release layout::

    SRC/image/out_of_focus0001.jpg ...   (also motionNNNN.jpg, ignored; a few are .JPG)
    SRC/gt/out_of_focus0001.png ...      (white = BLURRED)

Output (what ``configs/_base_/datasets/cuhk_dbd.py`` reads, ``invert=True``)::

    OUT/test/images/<stem>.jpg   OUT/test/masks/<stem>.png     the 100 images of --test-list
    OUT/train/images/<stem>.jpg  OUT/train/masks/<stem>.png    the other 604
    OUT/splits/val.txt   the 60 validation stems of --val-list (carved from the 604)
    OUT/splits/train.txt the other 544 training stems
    OUT/conversion_report.json

The DBD configs train on ``splits/train.txt``, validate (and keep the best checkpoint) on
``splits/val.txt`` and test on ``test/``. The shipped validation list was drawn by
:func:`dbdseg.datasets.validation_split.draw_validation_split` (seed 0, 60 of the 604 sorted
training stems ``out_of_focus0001`` ... ``out_of_focus0704`` less the test list);
``--val-list draw`` draws it from the training images actually found.

Files are copied byte for byte; an upper-case ``.JPG`` is written as ``.jpg`` (the dataset reads one
exact suffix). The work is done by :func:`dbdseg.datasets.conversion.convert_cuhk_dbd`. Example::

    python tools/dataset_converters/cuhk_dbd.py ~/Downloads/CUHK data/cuhk_dbd
"""
import argparse
import os.path as osp
import sys

from dbdseg.datasets.conversion import add_common_args, convert_cuhk_dbd, convert_main

SPLITS_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'splits')
DEFAULT_TEST_LIST = osp.join(SPLITS_DIR, 'cuhk_dbd_test100.txt')
DEFAULT_XU_INDEX = osp.join(SPLITS_DIR, 'cuhk_dbd_test100_xu_index.txt')
DEFAULT_VAL_LIST = osp.join(SPLITS_DIR, 'cuhk_dbd_val60.txt')


def parse_args(argv=None):
    """Command line of the CUHK converter."""
    parser = argparse.ArgumentParser(
        description='Copy the 704 defocus images of the CUHK blur detection release into '
        'OUT/{train,test}/{images,masks} (100 test images from --test-list, 604 train).')
    parser.add_argument('src', help='the release folder (holds image/ and gt/)')
    parser.add_argument('out', help='output folder, e.g. data/cuhk_dbd')
    parser.add_argument(
        '--test-list',
        default=DEFAULT_TEST_LIST,
        help='file of test image names, one per line (default: the 100-image split of BTBNet/DD, '
        'tools/dataset_converters/splits/cuhk_dbd_test100.txt)')
    parser.add_argument(
        '--xu100',
        default=None,
        metavar='DIR',
        help='also check that the xu100 re-release in DIR (files 1.bmp ... 100.bmp, directly or in '
        'sub-folders) maps onto the test list; nothing is copied from it')
    parser.add_argument(
        '--xu-index',
        default=DEFAULT_XU_INDEX,
        help='"N.bmp out_of_focusNNNN.jpg" lines for --xu100 (default: the shipped index)')
    parser.add_argument(
        '--val-list',
        default=DEFAULT_VAL_LIST,
        help='file of the validation image names carved from the training images, or "draw" '
        '(seed 0, 60 images; default: tools/dataset_converters/splits/cuhk_dbd_val60.txt)')
    parser.add_argument(
        '--strict',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='counts other than 704 defocus / 100 test / 604 train are an error (default); '
        'with --no-strict a warning')
    add_common_args(parser)
    return parser.parse_args(argv)


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    convert_cuhk_dbd(
        args.src,
        args.out,
        args.test_list,
        xu100=args.xu100,
        xu_index=args.xu_index,
        strict=args.strict,
        overwrite=args.overwrite,
        polarity_samples=args.polarity_samples,
        progress=not args.no_progress,
        val_list=None if args.val_list == 'draw' else args.val_list)
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
