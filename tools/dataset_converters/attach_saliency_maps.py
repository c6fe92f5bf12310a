#!/usr/bin/env python
"""Check that every training image has a usable saliency map, then write the split file to train on.

The hard mining of Zhang & Yan (ECCV 2020, Section 3.3) doubles the loss weight where the saliency
map and the in-focus mask disagree (saliency xor in-focus), so it needs one saliency map per
training image. dbdseg reads them through the dataset (ARCHITECTURE.md Section 4):
``data_prefix=dict(..., saliency_map_path='saliency')`` makes :class:`BinarySegDataset` look for
``DATA_ROOT/saliency/<stem>.png`` (8- or 16-bit grey) and ``LoadBinaryAnnotations`` loads it as
``gt_saliency_map``, float in [0, 1], which the models see on each ``SegDataSample``.

This tool checks, for EVERY image of the split (``--split-file``, default ``train.txt`` under the
data root; ``--all-images`` = every ``*<img_suffix>`` file below the image folder), that
``SALIENCY/<stem>.png``

* exists and can be decoded,
* is single-channel grey, 8- or 16-bit (a 3- or 4-channel PNG is an error: convert it to grey, see
  the message; a colour heat map cannot be turned back into probabilities),
* has the height and width of its image (as mmcv decodes it: OpenCV, EXIF orientation applied).

All problems are collected; up to 20 are listed with the total count and the run ends with exit
status 2, writing nothing. On success it writes the annotation file (default
``DATA_ROOT/train_saliency.txt``: the stems checked, one per line, in split order), prints the
config lines to use it and a few statistics (mean saliency, fraction of pixels > 0.5, constant
maps). An existing annotation file with other content is kept unless ``--overwrite``. When a mask
folder exists (``--masks``, default ``masks``), binary maps equal to their image's mask (or its
inverse) are reported as a warning: saliency maps must not be copies of the ground truth.

Where the maps come from (never from the ground truth, depth maps or renderer layers: that would
leak the label into training):

(a) A dbdseg SOD checkpoint (best; the paper uses a learned SOD model)::

        python tools/infer.py SOD_CONFIG SOD_CKPT DATA_ROOT/images --out-dir DATA_ROOT/saliency

    ``tools/infer.py`` writes ``<stem>.png`` (8-bit probability x 255, image size, EXIF orientation
    applied) and also ``<stem>_overlay.jpg`` heat-map overlays into ``--out-dir``; it has no option
    to skip the overlays. The dataset reads only ``<stem>.png``, so the overlays do no harm (this
    tool counts and ignores them); delete them to save space
    (``rm DATA_ROOT/saliency/*_overlay.jpg``). infer.py takes the files directly in a folder (not
    sub-folders); it processes every image there, also validation images, which is harmless.
    Or with ``tools/test.py``, taking the
    training images as an unlabeled test set of a single-set SOD config::

        python tools/test.py SOD_CONFIG SOD_CKPT --out DATA_ROOT/saliency --cfg-options \\
            test_dataloader.dataset.data_root=DATA_ROOT \\
            test_dataloader.dataset.data_prefix.img_path=images \\
            test_dataloader.dataset.data_prefix.seg_map_path=None \\
            test_dataloader.dataset.ann_file=train.txt test_evaluator.format_only=True

    (``SODMetric`` writes ``<stem>.png`` = rint(probability x 255) at the image size;
    ``format_only=True`` skips the metrics, which need masks. A config whose test set is a
    ``MultiSetDataset`` writes ``OUT/<set>/<stem>.png`` instead: use infer.py there.)

(b) Maps of any published SOD model, as grey PNGs named ``<stem>.png`` at the image size
    (resize them to the image size if the model wrote another).

(c) ``tools/dataset_converters/classical_saliency.py`` (frequency-tuned saliency, Achanta et al.
    2009, model-free, from the image alone): weak maps for experiments until a SOD model exists.

Then, for the synthetic renders (``images/``, ``masks/``, ``train.txt`` under the data root)::

    python tools/dataset_converters/attach_saliency_maps.py --data-root data/synthetic_defocus
    python tools/train.py CONFIG --cfg-options \\
        train_dataloader.dataset.data_prefix.saliency_map_path=saliency \\
        train_dataloader.dataset.ann_file=train_saliency.txt

and for the converted CUHK / DUT releases (``train/images``, ``train/masks``, no split file; the
hard-mining configs in ``configs/realtime_dbd/`` read ``saliency_map_path='train/saliency'``)::

    python tools/dataset_converters/attach_saliency_maps.py --data-root data/cuhk_dbd \\
        --images train/images --saliency train/saliency --masks train/masks --all-images

(there the config lists the whole image folder, so ``ann_file`` may stay unset). With
``--all-images`` on a folder that holds several splits (the synthetic ``images/``), the stems also
listed in ``val.txt`` / ``test.txt`` under the data root are reported as a warning: an ann_file
listing them would train on validation images.

Exit status 0 on success, 2 on a problem (message on stderr, starting with ``error:``).
"""
import argparse
import os
import os.path as osp
import sys
import uuid
from collections import Counter

import cv2
import numpy as np

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _converter_utils as cu  # noqa: E402

MAX_LISTED = 20
MAP_SUFFIX = '.png'
OVERLAY_SUFFIX = '_overlay.jpg'  # written by tools/infer.py next to each <stem>.png
HELD_OUT_SPLITS = ('val.txt', 'test.txt')  # split files under the data root never to train on
GREY_HINT = (
    'Saliency maps must be single-channel grey PNGs (8- or 16-bit). A grey map saved with 3 equal '
    'channels can be converted in place, e.g. python -c "import cv2, sys; p = sys.argv[1]; '
    'cv2.imwrite(p, cv2.imread(p, cv2.IMREAD_GRAYSCALE))" FILE; a colour heat map (channels '
    'differ) cannot be turned back into probabilities: write the probabilities themselves.')


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
        '--img-suffix', type=cu.suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--mask-suffix', type=cu.suffix_arg, default='.png', help='mask file suffix (default .png)')
    parser.add_argument(
        '--out-ann',
        default='train_saliency.txt',
        help='annotation file to write, relative to the data root (default train_saliency.txt)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing --out-ann of other content')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------- reading
def _decode(path, flag):
    """Decode a file with OpenCV (``flag``); None when missing, empty or not an image."""
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if buf.size == 0:
        return None
    try:
        return cv2.imdecode(buf, flag)
    except cv2.error:
        return None


def read_image_hw(path):
    """(H, W) of an image as mmcv's ``LoadImageFromFile`` sees it (OpenCV ``IMREAD_COLOR``, EXIF
    orientation applied); None when it cannot be decoded."""
    img = _decode(path, cv2.IMREAD_COLOR)
    return None if img is None else (int(img.shape[0]), int(img.shape[1]))


def check_map(map_path, rel_map, img_hw, rel_img):
    """Check one saliency map file.

    Args:
        map_path (str): the map file.
        rel_map (str): its name for messages (relative to the data root).
        img_hw (tuple): (H, W) of its image.
        rel_img (str): the image's name for messages.

    Returns:
        tuple: ``(problem, values)``: ``problem`` is None or a message naming the file;
        ``values`` is the (H, W) float64 map in [0, 1] (8-bit / 255, 16-bit / 65535, as
        ``LoadBinaryAnnotations`` reads it) when there is no problem, else None.
    """
    if not osp.isfile(map_path):
        return f'missing saliency map {rel_map} for image {rel_img}', None
    raw = _decode(map_path, cv2.IMREAD_UNCHANGED)
    if raw is None:
        return f'unreadable saliency map {rel_map}: empty, corrupt or not an image file', None
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    if raw.ndim == 3:
        channels = raw.shape[2]
        detail = ''
        if channels == 3:
            equal = np.array_equal(raw[..., 0], raw[..., 1]) and np.array_equal(
                raw[..., 0], raw[..., 2])
            detail = (' (3 equal channels: a grey map stored as colour; convert it to grey)'
                      if equal else ' (channels differ: a colour image, not a saliency map)')
        elif channels in (2, 4):
            detail = ' (with an alpha channel; save it as grey without alpha)'
        return (f'saliency map {rel_map} has {channels} channels, expected a single-channel grey '
                f'PNG{detail}'), None
    if raw.dtype not in (np.uint8, np.uint16):
        return (f'saliency map {rel_map} has dtype {raw.dtype}, expected 8- or 16-bit grey'), None
    map_hw = (int(raw.shape[0]), int(raw.shape[1]))
    if map_hw != tuple(img_hw):
        return (f'saliency map {rel_map} is {map_hw[0]}x{map_hw[1]} (H x W) but image {rel_img} '
                f'is {img_hw[0]}x{img_hw[1]}'), None
    scale = 255.0 if raw.dtype == np.uint8 else 65535.0
    return None, raw.astype(np.float64) / scale


def copies_mask(values, mask_path):
    """Whether a binary-valued map equals its mask (white > 128, or 0/1) or the mask's inverse.

    Soft maps (more than two values) never count: a thresholded model output may match a mask by
    chance on tiny images, a map holding only 0 and 1 that matches pixel for pixel is a copy.
    """
    uniq = np.unique(values)
    if uniq.size > 2 or not np.all(np.isin(uniq, (0.0, 1.0))):
        return False
    mask = _decode(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != values.shape:
        return False
    white = mask == 1 if mask.max() <= 1 else mask > 128
    sal = values > 0.5
    return bool(np.array_equal(sal, white) or np.array_equal(sal, ~white))


# ---------------------------------------------------------------------------- steps
def resolve(root, path):
    """``path`` if absolute, else joined with ``root``."""
    return path if osp.isabs(path) else osp.join(root, path)


def list_stems(args, root, img_dir):
    """Stems to check, and where they come from (for the messages).

    Raises:
        ConversionError: a missing folder / split file, or no image found.
    """
    if not osp.isdir(img_dir):
        raise cu.ConversionError(f'image folder {img_dir!r} does not exist (check --data-root and '
                                 '--images)')
    if not args.all_images:
        split_path = resolve(root, args.split_file)
        if not osp.isfile(split_path):
            raise cu.ConversionError(
                f'split file {split_path!r} does not exist; pass --split-file (relative to the '
                'data root) or --all-images')
        with open(split_path, encoding='utf-8') as f:
            stems = [line.strip() for line in f]
        # The dataset (mmengine.list_from_file) reads every non-blank line as a stem.
        stems = [s for s in stems if s]
        if not stems:
            raise cu.ConversionError(f'split file {split_path!r} lists no stems')
        dup = sorted(s for s, n in Counter(stems).items() if n > 1)
        if dup:
            raise cu.ConversionError(f'split file {split_path!r} lists stems more than once: '
                                     f'{cu.listing(dup, MAX_LISTED)}')
        return stems, split_path
    stems = []
    for folder, dirs, names in os.walk(img_dir):
        dirs.sort()
        for name in names:
            if name.endswith(args.img_suffix) and len(name) > len(args.img_suffix):
                rel = osp.relpath(osp.join(folder, name), img_dir)
                stems.append(rel[:-len(args.img_suffix)].replace(os.sep, '/'))
    stems.sort()
    if not stems:
        raise cu.ConversionError(f'no {args.img_suffix} image files in {img_dir!r} (check '
                                 '--img-suffix)')
    return stems, None


def check_all(stems, root, img_dir, sal_dir, mask_dir, args):
    """Check the map of every stem.

    Returns:
        tuple: ``(problems, stats)``: ``problems`` lists messages (one per bad image);
        ``stats`` holds ``maps``, ``mean``, ``above_half``, ``constant`` (stems) and
        ``mask_copies`` (stems).
    """
    problems, constant, mask_copies = [], [], []
    total, above, pixels, n_maps = 0.0, 0, 0, 0
    for stem in cu.progress_iter(
            stems, total=len(stems), desc='checking saliency maps', enabled=not args.no_progress):
        img_path = osp.join(img_dir, stem + args.img_suffix)
        rel_img = osp.relpath(img_path, root)
        rel_map = osp.relpath(osp.join(sal_dir, stem + MAP_SUFFIX), root)
        if not osp.isfile(img_path):
            problems.append(f'missing image {rel_img} (listed as {stem!r})')
            continue
        img_hw = read_image_hw(img_path)
        if img_hw is None:
            problems.append(f'unreadable image {rel_img}')
            continue
        problem, values = check_map(osp.join(sal_dir, stem + MAP_SUFFIX), rel_map, img_hw, rel_img)
        if problem:
            problems.append(problem)
            continue
        n_maps += 1
        total += float(values.sum())
        above += int(np.count_nonzero(values > 0.5))
        pixels += values.size
        if float(values.max()) == float(values.min()):
            constant.append(rel_map)
        if mask_dir and copies_mask(values, osp.join(mask_dir, stem + args.mask_suffix)):
            mask_copies.append(rel_map)
    stats = dict(
        maps=n_maps,
        mean=total / pixels if pixels else None,
        above_half=above / pixels if pixels else None,
        constant=constant,
        mask_copies=mask_copies)
    return problems, stats


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _listed_in(path, stems):
    """The ``stems`` that the text file ``path`` lists (none when it does not exist)."""
    if not osp.isfile(path):
        return []
    with open(path, encoding='utf-8') as f:
        listed = {line.strip() for line in f if line.strip()}
    return [s for s in stems if s in listed]


def _config_value(root, path):
    """``path`` relative to the data root when inside it (as configs write it), else absolute."""
    rel = osp.relpath(osp.abspath(path), osp.abspath(root))
    return osp.abspath(path) if rel.startswith('..') else rel.replace(os.sep, '/')


# ---------------------------------------------------------------------------- main
def run(argv=None):
    """Check and write; see the module docstring. Returns 0 (problems raise ConversionError)."""
    args = parse_args(argv)
    root = args.data_root
    if not osp.isdir(root):
        raise cu.ConversionError(f'data root {root!r} does not exist')
    img_dir, sal_dir = resolve(root, args.images), resolve(root, args.saliency)
    stems, split_path = list_stems(args, root, img_dir)
    what = (f'the {len(stems)} image(s) of {split_path}'
            if split_path else f'the {len(stems)} {args.img_suffix} image(s) below {img_dir}')
    if not osp.isdir(sal_dir):
        raise cu.ConversionError(
            f'saliency folder {sal_dir!r} does not exist, so none of {what} has a map. Make the '
            'maps first (see this tool\'s --help / module docstring): tools/infer.py with a SOD '
            'checkpoint, maps of a published SOD model, or '
            'tools/dataset_converters/classical_saliency.py; never the ground truth')
    ann_path = resolve(root, args.out_ann)
    if split_path and osp.abspath(ann_path) == osp.abspath(split_path):
        raise cu.ConversionError(f'--out-ann {ann_path!r} is the split file itself; choose another '
                                 'name (default train_saliency.txt)')
    mask_dir = resolve(root, args.masks) if args.masks else None
    if mask_dir and not osp.isdir(mask_dir):
        mask_dir = None

    problems, stats = check_all(stems, root, img_dir, sal_dir, mask_dir, args)
    if problems:
        lines = '\n'.join(f'  - {p}' for p in problems[:MAX_LISTED])
        more = (f'\n  ... and {len(problems) - MAX_LISTED} more'
                if len(problems) > MAX_LISTED else '')
        hint = ''
        if any('channels' in p for p in problems):
            hint += '\n' + GREY_HINT
        if any(p.startswith('missing saliency map') for p in problems):
            hint += ('\nMissing maps: make them with tools/infer.py (SOD checkpoint), a published '
                     'SOD model or tools/dataset_converters/classical_saliency.py (see --help).')
        raise cu.ConversionError(
            f'{len(problems)} problem(s) in the saliency maps of {what} (folder {sal_dir}); '
            f'no annotation file written:\n{lines}{more}{hint}')

    text = ''.join(s + '\n' for s in stems)
    status = 'wrote'
    if osp.exists(ann_path):
        with open(ann_path, encoding='utf-8') as f:
            old = f.read()
        if old == text:
            status = 'unchanged'
        elif not args.overwrite:
            raise cu.ConversionError(
                f'all {len(stems)} saliency maps are fine, but the annotation file {ann_path!r} '
                'already exists with other content; nothing was written. Pass --overwrite to '
                'replace it, or choose another --out-ann')
    if status == 'wrote':
        write_text_atomic(ann_path, text)

    print(f'saliency maps OK for {what}: {stats["maps"]} grey map(s) in {sal_dir}, each of its '
          "image's size")
    print(f'  mean saliency {stats["mean"]:.3f}, pixels > 0.5: {100.0 * stats["above_half"]:.1f} %,'
          f' constant maps: {len(stats["constant"])}')
    if stats['constant']:
        print(f'  warning: {len(stats["constant"])} map(s) hold one value only (no saliency '
              f'information for hard mining): {cu.listing(stats["constant"], 5)}')
    if stats['mask_copies']:
        print(f'  WARNING: {len(stats["mask_copies"])} map(s) are binary and equal to their '
              f'image\'s mask (or its inverse): {cu.listing(stats["mask_copies"], 5)}. Saliency '
              'maps must come from a saliency detector run on the image, never from the ground '
              'truth (that leaks the label; a copy of the in-focus mask makes the hard-mining '
              'region, saliency xor in-focus, empty).')
    if args.all_images:
        for name in HELD_OUT_SPLITS:
            held_out = _listed_in(resolve(root, name), stems)
            if held_out:
                print(f'  WARNING: {len(held_out)} checked image(s) are listed in {name} (e.g. '
                      f'{cu.listing(held_out, 3)}): an ann_file listing every image would train '
                      'on them; use --split-file train.txt instead')
    overlays = [n for n in os.listdir(sal_dir) if n.endswith(OVERLAY_SUFFIX)]
    if overlays:
        print(f'  note: {len(overlays)} *{OVERLAY_SUFFIX} file(s) in {sal_dir} (tools/infer.py '
              'overlays) are ignored: the dataset reads only <stem>.png; delete them if you like')
    print(f'{status} {ann_path} ({len(stems)} stems)')
    ann_value = _config_value(root, ann_path)
    sal_value = _config_value(root, sal_dir)
    img_value = _config_value(root, img_dir)
    print('config lines (tools/train.py CONFIG --cfg-options ...):')
    print(f'  train_dataloader.dataset.data_prefix.saliency_map_path={sal_value}')
    print(f'  train_dataloader.dataset.ann_file={ann_value}')
    if img_value != 'images':
        print(f'  train_dataloader.dataset.data_prefix.img_path={img_value}')
    if args.all_images:
        print('  (the ann_file line is optional when the config lists the whole image folder)')
    print('or in a config file (merged into the base config\'s train dataset):')
    print(f"  train_dataloader = dict(dataset=dict(ann_file='{ann_value}', "
          f"data_prefix=dict(saliency_map_path='{sal_value}')))")
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return cu.convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
