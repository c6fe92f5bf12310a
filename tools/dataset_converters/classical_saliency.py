#!/usr/bin/env python
"""Write classical (model-free) saliency maps ``<stem>.png`` for a folder of images.

For the hard mining of Zhang & Yan (ECCV 2020, Section 3.3), which weights the pixels where the
saliency map and the in-focus mask disagree, every training image needs a saliency map. The maps
written here come from a MODEL-FREE classical detector that looks at the image alone:

* ``--method ft`` (default): frequency-tuned saliency, Achanta et al., CVPR 2009
  (:func:`dbdseg.utils.saliency.frequency_tuned_saliency`: Lab distance of a 5 x 5 binomial-blurred
  image to the mean colour);
* ``--method sr``: spectral residual, Hou & Zhang, CVPR 2007
  (:func:`dbdseg.utils.saliency.spectral_residual_saliency`).

They are NEVER computed from the ground-truth masks, the depth maps or any layer of the synthetic
renderer: a saliency map made from the label would leak the label into training (and a map equal
to the in-focus mask makes the hard-mining region, saliency xor in-focus, empty). They are much
weaker than the maps of a learned SOD model (the paper uses one): use them for experiments until a
dbdseg SOD checkpoint exists, then make the maps with ``tools/infer.py`` (see
``attach_saliency_maps.py``).

Output: ``OUT/<stem>.png``, 8-bit grey, ``rint(saliency * 255)``, at the size of each image as
mmcv decodes it (OpenCV, EXIF orientation applied), one file per image; sub-folders of a stem
(``a/b/0001``) are created. Files are written atomically (temporary file + ``os.replace``).
Existing output files are never replaced unless ``--overwrite`` (nothing is written when one
exists); other files in OUT are left alone.

Images: ``--split-file FILE`` (a path as given, relative to the current folder; one stem per line,
without suffix, blank lines and ``#`` lines skipped) picks ``IMAGES/<stem><img_suffix>``; without
it every ``*<img_suffix>`` file below IMAGES (recursively, like ``BinarySegDataset``). Example, for
the synthetic renders::

    python tools/dataset_converters/classical_saliency.py \\
        --images data/synthetic_defocus/images --out data/synthetic_defocus/saliency \\
        --split-file data/synthetic_defocus/train.txt
    python tools/dataset_converters/attach_saliency_maps.py --data-root data/synthetic_defocus

Exit status 0 on success, 2 on an error (message on stderr, starting with ``error:``); unreadable
images are collected, the others are still written, and the run ends with status 2 naming them.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import uuid

import cv2
import numpy as np

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _converter_utils as cu  # noqa: E402

#: ``--method`` -> (function name in dbdseg/utils/saliency.py, description)
METHODS = {
    'ft': ('frequency_tuned_saliency', 'frequency-tuned saliency (Achanta et al., CVPR 2009)'),
    'sr': ('spectral_residual_saliency', 'spectral residual saliency (Hou & Zhang, CVPR 2007)'),
}
SALIENCY_PY = osp.join(cu.REPO_ROOT, 'dbdseg', 'utils', 'saliency.py')
MAX_LISTED = 20


def load_saliency_module():
    """``dbdseg/utils/saliency.py`` loaded by path (importing dbdseg would import mmseg: slow).

    Raises:
        ConversionError: the file is missing or fails to import (message names it).
    """
    mod_name = 'dbdseg_converters_saliency'
    module = sys.modules.get(mod_name)
    if module is not None:
        return module
    if not osp.isfile(SALIENCY_PY):
        raise cu.ConversionError(f'saliency module {SALIENCY_PY!r} not found (is this a complete '
                                 'dbdseg checkout?)')
    try:
        spec = importlib.util.spec_from_file_location(mod_name, SALIENCY_PY)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - report any import problem with the file name
        raise cu.ConversionError(f'cannot import {SALIENCY_PY!r}: {exc}') from exc
    sys.modules[mod_name] = module
    return module


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
        choices=sorted(METHODS),
        default='ft',
        help='ft: frequency-tuned (Achanta et al. 2009, default); sr: spectral residual '
        '(Hou & Zhang 2007)')
    parser.add_argument(
        '--split-file',
        default=None,
        help='file of stems (one per line, no suffix), path as given; default: every image')
    parser.add_argument(
        '--img-suffix', type=cu.suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--blur-sigma',
        type=float,
        default=None,
        help='ft only: Gaussian sigma (pixels) instead of the 5x5 binomial kernel; 0 = no blur')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace existing OUT/<stem>.png files')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------- helpers
def list_image_stems(img_dir, img_suffix, split_file=None):
    """Stems of the images to process, and their paths.

    Args:
        img_dir (str): image folder.
        img_suffix (str): image suffix (exact, as the dataset classes match it).
        split_file (str, optional): file of stems; default: every ``*<img_suffix>`` file below
            ``img_dir`` (recursive, sorted by path).

    Returns:
        list[tuple[str, str]]: ``(stem, image path)`` pairs.

    Raises:
        ConversionError: the folder or split file does not exist, a listed image is missing (up
            to 20 named with the count), or no image is found.
    """
    if not osp.isdir(img_dir):
        raise cu.ConversionError(f'image folder {img_dir!r} does not exist')
    if split_file:
        stems = cu.read_name_list(split_file, what='--split-file')
        missing = [
            osp.join(img_dir, s + img_suffix) for s in stems
            if not osp.isfile(osp.join(img_dir, s + img_suffix))
        ]
        if missing:
            raise cu.ConversionError(
                f'{len(missing)} image(s) listed in {split_file!r} do not exist: '
                f'{cu.listing(missing, MAX_LISTED)} (check --images and --img-suffix)')
    else:
        stems = []
        for folder, dirs, names in os.walk(img_dir):
            dirs.sort()
            for name in names:
                if name.endswith(img_suffix) and len(name) > len(img_suffix):
                    rel = osp.relpath(osp.join(folder, name), img_dir)
                    stems.append(rel[:-len(img_suffix)].replace(os.sep, '/'))
        stems.sort()
        if not stems:
            raise cu.ConversionError(f'no {img_suffix} image files in {img_dir!r} (check '
                                     '--img-suffix)')
    return [(s, osp.join(img_dir, s + img_suffix)) for s in stems]


def read_bgr(path):
    """Decode an image as mmcv's ``LoadImageFromFile`` does: OpenCV ``IMREAD_COLOR`` (BGR uint8,
    EXIF orientation applied). Returns None when the file cannot be decoded."""
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if buf.size == 0:
        return None
    try:
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error:
        return None


def write_png_atomic(path, array):
    """Encode ``array`` as PNG and write it to ``path`` via a temporary file and ``os.replace``.

    Raises:
        ConversionError: OpenCV cannot encode the array (names ``path``).
        OSError: the file cannot be written.
    """
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise cu.ConversionError(f'cannot encode {path!r} as PNG (shape {array.shape}, dtype '
                                 f'{array.dtype})')
    folder, name = osp.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _inside(path, folder):
    """Whether ``path`` is ``folder`` or lies below it (real paths)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# ---------------------------------------------------------------------------- main
def run(argv=None):
    """Write the maps; see the module docstring. Returns 0 (errors raise ConversionError)."""
    args = parse_args(argv)
    if args.blur_sigma is not None and args.method != 'ft':
        raise cu.ConversionError('--blur-sigma applies to --method ft only')
    img_dir, out = osp.abspath(args.images), osp.abspath(args.out)
    if _inside(out, img_dir):
        raise cu.ConversionError(f'--out {out!r} must not be the image folder or lie inside it '
                                 f'({img_dir!r}): the dataset would list the maps as images')
    if osp.exists(out) and not osp.isdir(out):
        raise cu.ConversionError(f'--out {out!r} exists and is not a folder')
    jobs = list_image_stems(img_dir, args.img_suffix, args.split_file)
    targets = [(stem, path, osp.join(out, stem + '.png')) for stem, path in jobs]
    existing = [t for _, _, t in targets if osp.exists(t)]
    if existing and not args.overwrite:
        raise cu.ConversionError(
            f'{len(existing)} of the {len(targets)} output file(s) already exist, e.g. '
            f'{cu.listing(existing, 5)}; nothing was written. Pass --overwrite to replace them, '
            'or choose another --out')
    module = load_saliency_module()
    fn_name, description = METHODS[args.method]
    fn = getattr(module, fn_name)
    kwargs = {'blur_sigma': args.blur_sigma} if args.method == 'ft' else {}

    unreadable, written = [], 0
    sum_mean, sum_above, n_pixels = 0.0, 0, 0
    for stem, img_path, out_path in cu.progress_iter(
            targets, total=len(targets), desc=f'saliency ({args.method})',
            enabled=not args.no_progress):
        img = read_bgr(img_path)
        if img is None:
            unreadable.append(img_path)
            continue
        sal = fn(img, **kwargs)
        sal8 = np.rint(sal * 255.0).astype(np.uint8)
        write_png_atomic(out_path, sal8)
        written += 1
        sum_mean += float(sal8.sum()) / 255.0
        sum_above += int(np.count_nonzero(sal8 > 127))  # > 0.5 on the [0, 1] scale
        n_pixels += sal8.size

    print(f'wrote {written} saliency map(s) to {out} ({description}; model-free, computed from '
          'each image alone, never from masks or renderer layers)')
    if written:
        print(f'  8-bit <stem>.png = rint(saliency x 255), image size; mean saliency '
              f'{sum_mean / n_pixels:.3f}, pixels > 0.5: {100.0 * sum_above / n_pixels:.1f} %')
    if osp.dirname(out) == osp.dirname(img_dir):
        root = osp.dirname(out)
        if not args.split_file:
            split = ' --all-images'
        elif osp.dirname(osp.abspath(args.split_file)) == root:
            split = f' --split-file {osp.basename(args.split_file)}'
        else:
            split = ' --split-file FILE'
        print('  next: python tools/dataset_converters/attach_saliency_maps.py --data-root '
              f'{root} --images {osp.basename(img_dir)} --saliency {osp.basename(out)}'
              f' --img-suffix {args.img_suffix}{split}')
    if unreadable:
        raise cu.ConversionError(f'{len(unreadable)} image(s) cannot be decoded and got no map: '
                                 f'{cu.listing(unreadable, MAX_LISTED)}')
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return cu.convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
