#!/usr/bin/env python
"""Write classical (model-free) saliency maps ``<stem>.png`` for a folder of images.

For the hard mining of Zhang & Yan (ECCV 2020, Section 3.3), which weights the pixels where the
saliency map and the in-focus mask disagree, every training image needs a saliency map. The maps
written here come from a MODEL-FREE classical detector that looks at the image alone
(:func:`dbdseg.apis.map_targets.write_classical_saliency`):

* ``--method ft`` (default): frequency-tuned saliency, Achanta et al., CVPR 2009
  (:func:`dbdseg.utils.saliency.frequency_tuned_saliency`);
* ``--method sr``: spectral residual, Hou & Zhang, CVPR 2007
  (:func:`dbdseg.utils.saliency.spectral_residual_saliency`).

They are NEVER computed from the ground-truth masks, the depth maps or any layer of the synthetic
renderer (that would leak the label into training). They are much weaker than the maps of a learned
SOD model (the paper uses one): use them for experiments until a dbdseg SOD checkpoint exists, then
make the maps with ``tools/infer.py`` (see ``attach_saliency_maps.py``).

Output: ``OUT/<stem>.png``, 8-bit grey, ``rint(saliency * 255)``, at the size of each image as mmcv
decodes it, written atomically. Existing output files are never replaced unless ``--overwrite``
(nothing is written when one exists).

Images: ``--split-file FILE`` (a path as given; one stem per line, without suffix, blank and ``#``
lines skipped) picks ``IMAGES/<stem><img_suffix>``; without it every ``*<img_suffix>`` file below
IMAGES (recursively, like ``BinarySegDataset``). Example, for the synthetic renders::

    python tools/dataset_converters/classical_saliency.py \\
        --images data/synthetic_defocus/images --out data/synthetic_defocus/saliency \\
        --split-file data/synthetic_defocus/train.txt
    python tools/dataset_converters/attach_saliency_maps.py --data-root data/synthetic_defocus

Exit status 0 on success, 2 on an error (message on stderr, starting with ``error:``); unreadable
images are collected, the others are still written, and the run ends with status 2 naming them.
"""
import argparse
import sys

from dbdseg.apis.map_targets import SALIENCY_METHODS, write_classical_saliency
from dbdseg.datasets.conversion import ConversionError
from dbdseg.datasets.map_folders import suffix_arg


def parse_args(argv=None):
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog='tools/dataset_converters/classical_saliency.py',
        description='Write model-free classical saliency maps OUT/<stem>.png (8-bit) for images. '
        'The maps are computed from each image alone, never from masks or renderer layers.')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--out', required=True, help='output folder of <stem>.png maps')
    parser.add_argument(
        '--method',
        choices=sorted(SALIENCY_METHODS),
        default='ft',
        help='ft: frequency-tuned (Achanta et al. 2009, default); sr: spectral residual '
        '(Hou & Zhang 2007)')
    parser.add_argument(
        '--split-file',
        default=None,
        help='file of stems (one per line, no suffix), path as given; default: every image')
    parser.add_argument(
        '--img-suffix', type=suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--blur-sigma',
        type=float,
        default=None,
        help='ft only: Gaussian sigma (pixels) instead of the 5x5 binomial kernel; 0 = no blur')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing OUT/<stem>.png files')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    args = parse_args(argv)
    try:
        write_classical_saliency(
            args.images,
            args.out,
            method=args.method,
            img_suffix=args.img_suffix,
            split_file=args.split_file,
            blur_sigma=args.blur_sigma,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (ConversionError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
