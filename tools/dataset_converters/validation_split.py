#!/usr/bin/env python
"""Write the validation split of a DBD dataset converted before the split existed.

Usage::

    python tools/dataset_converters/validation_split.py DATA_ROOT [--val-list FILE]
        [--n 60] [--seed 0] [--overwrite]

Lists ``DATA_ROOT/train/images`` and writes ``DATA_ROOT/splits/val.txt`` (the validation stems) and
``DATA_ROOT/splits/train.txt`` (the other training stems), which the DBD configs read as
``ann_file``. ``--val-list`` takes a list (the shipped CUHK list:
``tools/dataset_converters/splits/cuhk_dbd_val60.txt``); without it the split is drawn by
:func:`dbdseg.datasets.validation_split.draw_validation_split` (the converters' procedure: the CUHK
and DUT converters write the same files). Existing split files are replaced only with
``--overwrite``.
"""
import argparse
import os.path as osp
import sys

from dbdseg.datasets.validation_split import (TRAIN_LIST, VAL_LIST, VAL_SPLIT_SEED, VAL_SPLIT_SIZE,
                                              read_stem_list, write_validation_split)
from dbdseg.utils.fileio import list_image_stems


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='write DATA_ROOT/splits/{train,val}.txt for a converted DBD dataset')
    parser.add_argument('data_root', help='converted dataset root, e.g. data/cuhk_dbd')
    parser.add_argument('--val-list', help='validation image names (default: draw them)')
    parser.add_argument('--n', type=int, default=VAL_SPLIT_SIZE, help='images to draw (60)')
    parser.add_argument('--seed', type=int, default=VAL_SPLIT_SEED, help='seed of the draw (0)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing split files')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point: 0 on success; SystemExit with a message on an error."""
    args = parse_args(argv)
    images = osp.join(args.data_root, 'train', 'images')
    if not osp.isdir(images):
        raise SystemExit(f'no training images folder {images!r} (convert the dataset first)')
    existing = [f for f in (TRAIN_LIST, VAL_LIST) if osp.exists(osp.join(args.data_root, f))]
    if existing and not args.overwrite:
        raise SystemExit(f'{existing} already exist under {args.data_root!r}; pass --overwrite')
    val = read_stem_list(args.val_list) if args.val_list else None
    try:
        write_validation_split(
            args.data_root, list_image_stems(images), val, args.val_list, n=args.n, seed=args.seed)
    except ValueError as exc:
        raise SystemExit(str(exc))
    return 0


if __name__ == '__main__':
    sys.exit(main())
