#!/usr/bin/env python
"""Convert the DUTS salient object detection release (Wang et al., CVPR 2017) to dbdseg's layout.

Expected release layout (the folders are searched at most two levels below SRC; either part may be
absent)::

    SRC/DUTS-TR/DUTS-TR-Image/*.jpg   SRC/DUTS-TR/DUTS-TR-Mask/*.png    train, 10553 images
    SRC/DUTS-TE/DUTS-TE-Image/*.jpg   SRC/DUTS-TE/DUTS-TE-Mask/*.png    test, 5019 images

Masks: white = salient (dbdseg's label 1, ``invert=False``). Output (what
``configs/_base_/datasets/duts.py`` reads)::

    OUT/train/images/<stem>.jpg  OUT/train/masks/<stem>.png
    OUT/test/images/<stem>.jpg   OUT/test/masks/<stem>.png
    OUT/conversion_report.json

Files are copied byte for byte (an upper-case suffix is written lower-case). The work is done by
:func:`dbdseg.datasets.conversion.convert_release` with ``DUTS_SPEC``. Example::

    python tools/dataset_converters/duts.py ~/Downloads/DUTS data/duts
"""
import argparse
import sys

from dbdseg.datasets.conversion import DUTS_SPEC, add_common_args, convert_main, convert_release


def parse_args(argv=None):
    """Command line of the DUTS converter."""
    parser = argparse.ArgumentParser(description='Copy DUTS (DUTS-TR = train, DUTS-TE = test) into '
                                     'OUT/{train,test}/{images,masks}.')
    parser.add_argument('src', help='the folder holding DUTS-TR/ and/or DUTS-TE/')
    parser.add_argument('out', help='output folder, e.g. data/duts')
    add_common_args(parser)
    return parser.parse_args(argv)


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    convert_release(
        args.src,
        args.out,
        DUTS_SPEC,
        overwrite=args.overwrite,
        polarity_samples=args.polarity_samples,
        progress=not args.no_progress)
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
