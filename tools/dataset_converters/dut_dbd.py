#!/usr/bin/env python
"""Convert the DUT defocus blur detection release (Zhao et al., CVPR 2018) to dbdseg's layout.

Expected release layout (the four folders are searched at most two levels below SRC)::

    SRC/dut600-source/*.jpg   SRC/dut600-gt/*.bmp      train, 600 images
    SRC/dut500-source/*.jpg   SRC/dut500-gt/*.bmp      test, 500 images
    # or the common re-distribution:
    SRC/train/dut600-source  SRC/train/dut600-gt  SRC/test/dut500-source  SRC/test/dut500-gt
    # or the folder names of the DUT-DBD_Dataset archive:
    SRC/DUT600S_Training  SRC/DUT600GT_Training  SRC/DUT500S-Testing  SRC/DUT500GT-Testing

Masks: white = in-focus (dbdseg's label 1, ``invert=False``). Output (what
``configs/_base_/datasets/dut_dbd.py`` reads)::

    OUT/train/images/<stem>.jpg  OUT/train/masks/<stem>.bmp
    OUT/test/images/<stem>.jpg   OUT/test/masks/<stem>.bmp
    OUT/splits/val.txt    60 validation stems carved from the 600 training images
    OUT/splits/train.txt  the other 540
    OUT/conversion_report.json

The validation split is drawn by :func:`dbdseg.datasets.validation_split.draw_validation_split`
(seed 0: ``sorted(random.Random(0).sample(sorted(train stems), 60))``; no list ships for DUT
because its file names were not available when dbdseg was written, so the draw runs on the names of
your download); the DBD configs train on ``splits/train.txt``, validate on ``splits/val.txt`` and
test on ``test/``.

Files are copied byte for byte (an upper-case suffix is written lower-case). A release with only one
part (e.g. the 500 test images) is converted with a warning. The work is done by
:func:`dbdseg.datasets.conversion.convert_release` with ``DUT_DBD_SPEC``. Example::

    python tools/dataset_converters/dut_dbd.py ~/Downloads/DUT-DBD data/dut_dbd
"""
import argparse
import sys

from dbdseg.datasets.conversion import DUT_DBD_SPEC, add_common_args, convert_main, convert_release


def parse_args(argv=None):
    """Command line of the DUT converter."""
    parser = argparse.ArgumentParser(
        description='Copy the DUT defocus blur detection release (dut600 = train, dut500 = test) '
        'into OUT/{train,test}/{images,masks}.')
    parser.add_argument(
        'src',
        help='the release folder (holds the dut600-*/dut500-* or DUT600*/DUT500* folders, '
        'directly or one level down)')
    parser.add_argument('out', help='output folder, e.g. data/dut_dbd')
    add_common_args(parser)
    return parser.parse_args(argv)


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    convert_release(
        args.src,
        args.out,
        DUT_DBD_SPEC,
        overwrite=args.overwrite,
        polarity_samples=args.polarity_samples,
        progress=not args.no_progress)
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
