#!/usr/bin/env python
"""Check that every training image has a usable saliency map, then write the split file to train on.

The hard mining of Zhang & Yan (ECCV 2020, Section 3.3) needs one saliency map per training image.
``data_prefix=dict(..., saliency_map_path='saliency')`` makes ``BinarySegDataset`` read
``DATA_ROOT/saliency/<stem>.png`` (8- or 16-bit grey) as ``gt_saliency_map``, float in [0, 1].
This tool checks, for EVERY image of the split (``--split-file``, default ``train.txt`` under the
data root; ``--all-images`` = every ``*<img_suffix>`` file below the image folder), that
``SALIENCY/<stem>.png`` exists, decodes, is single-channel 8- or 16-bit grey and has its image's
height and width; all problems are listed together and nothing is written. On success it writes
the annotation file (default ``DATA_ROOT/train_saliency.txt``) and prints statistics, warnings
(maps copying the masks, held-out images) and the config lines to use it
(:func:`dbdseg.datasets.map_folders.attach_saliency_maps`; where the maps come from, never from the
ground truth: :mod:`dbdseg.datasets.map_folders`).

For the synthetic renders (``images/``, ``masks/``, ``train.txt`` under the data root)::

    python tools/dataset_converters/attach_saliency_maps.py --data-root data/synthetic_defocus
    python tools/train.py CONFIG --cfg-options \\
        train_dataloader.dataset.data_prefix.saliency_map_path=saliency \\
        train_dataloader.dataset.ann_file=train_saliency.txt

and for the converted CUHK / DUT releases (``train/images``, ``train/masks``, no split file; the
hard-mining configs in ``configs/realtime_dbd/`` read ``saliency_map_path='train/saliency'``)::

    python tools/dataset_converters/attach_saliency_maps.py --data-root data/cuhk_dbd \\
        --images train/images --saliency train/saliency --masks train/masks --all-images

Exit status 0 on success, 2 on a problem (message on stderr, starting with ``error:``).
"""
import argparse
import sys

from dbdseg.datasets.conversion import ConversionError
from dbdseg.datasets.map_folders import attach_saliency_maps, suffix_arg


def parse_args(argv=None):
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog='tools/dataset_converters/attach_saliency_maps.py',
        description='Check that every training image has a saliency map <saliency>/<stem>.png '
        '(grey, same size) and write the annotation file listing them.')
    parser.add_argument(
        '--data-root', required=True, help='dataset root, e.g. data/synthetic_defocus')
    parser.add_argument(
        '--images', default='images', help='image folder under the data root (default images)')
    parser.add_argument(
        '--saliency',
        default='saliency',
        help='saliency map folder under the data root (default saliency)')
    parser.add_argument(
        '--masks',
        default='masks',
        help='mask folder under the data root, only to warn about maps that copy the masks; '
        'skipped when missing or "" (default masks)')
    split = parser.add_mutually_exclusive_group()
    split.add_argument(
        '--split-file',
        default='train.txt',
        help='file of the training stems, relative to the data root (default train.txt)')
    split.add_argument(
        '--all-images',
        action='store_true',
        help='check every image below the image folder instead of a split file')
    parser.add_argument(
        '--img-suffix', type=suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--mask-suffix', type=suffix_arg, default='.png', help='mask file suffix (default .png)')
    parser.add_argument(
        '--out-ann',
        default='train_saliency.txt',
        help='annotation file to write, relative to the data root (default train_saliency.txt)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing --out-ann of other content')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    args = parse_args(argv)
    try:
        attach_saliency_maps(
            args.data_root,
            images=args.images,
            saliency=args.saliency,
            masks=args.masks,
            split_file=args.split_file,
            all_images=args.all_images,
            img_suffix=args.img_suffix,
            mask_suffix=args.mask_suffix,
            out_ann=args.out_ann,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (ConversionError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
