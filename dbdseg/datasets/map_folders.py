"""Folders of per-image maps next to a dataset: listing the images, checking the maps.

Some training methods read, besides the image and its mask, one extra map per image from a folder
of ``<stem>.png`` files that ``BinarySegDataset`` finds through ``data_prefix`` (e.g.
``saliency_map_path``, ``depth_map_path``) and ``LoadBinaryAnnotations`` loads as a float map in
[0, 1] (8-bit / 255, 16-bit / 65535). This module holds what is about such dataset folders: which
images a split lists (:func:`list_image_jobs`, :func:`read_split_stems`), whether a map folder is
complete and readable (:func:`check_map`, :func:`check_map_folder`) and the saliency-map check that
ends with the annotation file to train on (:func:`attach_saliency_maps`). It lives in
``dbdseg.datasets`` because it is about the dataset layout the dataset classes read; writing the
maps (running a model or a detector over the images) is in :mod:`dbdseg.apis.map_targets`.

Saliency maps serve the hard mining of Zhang & Yan (ECCV 2020, Section 3.3), which doubles the loss
weight where the saliency map and the in-focus mask disagree (saliency xor in-focus), so every
training image needs one. Where they come from (never from the ground truth, depth maps or renderer
layers: that would leak the label into training):

(a) A dbdseg SOD checkpoint (best; the paper uses a learned SOD model)::

        python tools/infer.py SOD_CONFIG SOD_CKPT DATA_ROOT/images --out-dir DATA_ROOT/saliency

    ``tools/infer.py`` writes ``<stem>.png`` (8-bit probability x 255, image size, EXIF
    orientation applied) and ``<stem>_overlay.jpg`` heat-map overlays; the dataset reads only
    ``<stem>.png``, so the overlays do no harm (:func:`attach_saliency_maps` counts and ignores
    them). infer.py takes the files directly in a folder (not sub-folders). Or with
    ``tools/test.py``, taking the training images as an unlabeled test set of a single-set SOD
    config::

        python tools/test.py SOD_CONFIG SOD_CKPT --out DATA_ROOT/saliency --cfg-options \\
            test_dataloader.dataset.data_root=DATA_ROOT \\
            test_dataloader.dataset.data_prefix.img_path=images \\
            test_dataloader.dataset.data_prefix.seg_map_path=None \\
            test_dataloader.dataset.ann_file=train.txt test_evaluator.format_only=True

    (``SODMetric`` writes ``<stem>.png`` = rint(probability x 255) at the image size;
    ``format_only=True`` skips the metrics, which need masks. A config whose test set is a
    ``MultiSetDataset`` writes ``OUT/<set>/<stem>.png`` instead: use infer.py there.)

(b) Maps of any published SOD model, as grey PNGs named ``<stem>.png`` at the image size.

(c) ``tools/dataset_converters/classical_saliency.py`` (:func:`dbdseg.apis.map_targets.
    write_classical_saliency`: frequency-tuned saliency, Achanta et al. 2009, from the image
    alone): weak maps for experiments until a SOD model exists.

Errors are :class:`dbdseg.datasets.conversion.ConversionError` (the dataset converters' error);
the messages name the command-line options of the tools in ``tools/dataset_converters/`` that
call these functions.
"""
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

# shared with the converters, re-exported for the map tools
from dbdseg.datasets.conversion import progress_iter  # noqa: F401
from dbdseg.datasets.conversion import ConversionError, listing, read_name_list, suffix_arg
from dbdseg.utils.fileio import atomic_write_text, list_image_stems

__all__ = [
    'MAP_SUFFIX', 'OVERLAY_SUFFIX', 'HELD_OUT_SPLITS', 'attach_saliency_maps', 'check_map',
    'check_map_folder', 'copies_mask', 'decode_image', 'list_image_jobs', 'listing',
    'read_image_hw', 'read_name_list', 'read_split_stems', 'suffix_arg'
]

MAX_LISTED = 20
#: suffix of every map file: ``<stem>.png``
MAP_SUFFIX = '.png'
#: heat-map overlays ``tools/infer.py`` writes next to each ``<stem>.png``
OVERLAY_SUFFIX = '_overlay.jpg'
#: split files under the data root never to train on
HELD_OUT_SPLITS = ('val.txt', 'test.txt')
GREY_HINT = (
    'Saliency maps must be single-channel grey PNGs (8- or 16-bit). A grey map saved with 3 equal '
    'channels can be converted in place, e.g. python -c "import cv2, sys; p = sys.argv[1]; '
    'cv2.imwrite(p, cv2.imread(p, cv2.IMREAD_GRAYSCALE))" FILE; a colour heat map (channels '
    'differ) cannot be turned back into probabilities: write the probabilities themselves.')


# ---------------------------------------------------------------------------- small helpers
def _resolve(root: str, path: str) -> str:
    """``path`` if absolute, else joined with ``root``."""
    return path if osp.isabs(path) else osp.join(root, path)


def _config_value(root: str, path: str) -> str:
    """``path`` relative to the data root when inside it (as configs write it), else absolute."""
    rel = osp.relpath(osp.abspath(path), osp.abspath(root))
    return osp.abspath(path) if rel.startswith('..') else rel.replace(os.sep, '/')


# ---------------------------------------------------------------------------- listing images
def list_image_jobs(img_dir: str,
                    img_suffix: str,
                    split_file: Optional[str] = None) -> List[Tuple[str, str]]:
    """The images to make maps for: ``(stem, image path)`` pairs.

    Args:
        img_dir (str): image folder.
        img_suffix (str): image suffix, matched exactly (as the dataset classes match it).
        split_file (str, optional): file of stems (one per line, no suffix; blank and ``#`` lines
            skipped), a path as given. Defaults to None: every non-hidden ``*<img_suffix>`` file
            below ``img_dir``, recursively, sorted by stem (stems keep sub-folders: ``a/b/0001``).

    Returns:
        list[tuple[str, str]]: ``(stem, img_dir/<stem><img_suffix>)``.

    Raises:
        ConversionError: the folder or split file does not exist, a listed image is missing (up
            to 20 named with the count), or no image is found.
    """
    if not osp.isdir(img_dir):
        raise ConversionError(f'image folder {img_dir!r} does not exist')
    if split_file:
        stems = read_name_list(split_file, what='--split-file')
        missing = [
            osp.join(img_dir, s + img_suffix) for s in stems
            if not osp.isfile(osp.join(img_dir, s + img_suffix))
        ]
        if missing:
            raise ConversionError(
                f'{len(missing)} image(s) listed in {split_file!r} do not exist: '
                f'{listing(missing, MAX_LISTED)} (check --images and --img-suffix)')
    else:
        stems = list_image_stems(img_dir, suffix=img_suffix, recursive=True)
        if not stems:
            raise ConversionError(f'no {img_suffix} image files in {img_dir!r} (check '
                                  '--img-suffix)')
    return [(s, osp.join(img_dir, s + img_suffix)) for s in stems]


def read_split_stems(split_path: str) -> List[str]:
    """Stems of a split file as the dataset reads it (``mmengine.list_from_file``: every
    non-blank line, stripped; ``#`` is not a comment there).

    Raises:
        ConversionError: the file does not exist, lists no stem or lists a stem twice (named).
    """
    if not osp.isfile(split_path):
        raise ConversionError(
            f'split file {split_path!r} does not exist; pass --split-file (relative to the '
            'data root) or --all-images')
    with open(split_path, encoding='utf-8') as f:
        stems = [line.strip() for line in f]
    stems = [s for s in stems if s]
    if not stems:
        raise ConversionError(f'split file {split_path!r} lists no stems')
    dup = sorted(s for s, n in Counter(stems).items() if n > 1)
    if dup:
        raise ConversionError(f'split file {split_path!r} lists stems more than once: '
                              f'{listing(dup, MAX_LISTED)}')
    return stems


# ---------------------------------------------------------------------------- reading maps
def decode_image(path: str, flag: int = cv2.IMREAD_COLOR) -> Optional[np.ndarray]:
    """Decode a file with OpenCV, as mmcv's ``LoadImageFromFile`` does (EXIF orientation applied
    for ``IMREAD_COLOR``).

    Args:
        path (str): the file.
        flag (int): ``cv2.imdecode`` flag. Defaults to ``cv2.IMREAD_COLOR`` ((H, W, 3) BGR uint8).

    Returns:
        np.ndarray | None: the decoded array; None when the file is missing, empty or not an
        image.
    """
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


def read_image_hw(path: str) -> Optional[Tuple[int, int]]:
    """(H, W) of an image as mmcv's ``LoadImageFromFile`` sees it (OpenCV ``IMREAD_COLOR``, EXIF
    orientation applied); None when it cannot be decoded."""
    img = decode_image(path, cv2.IMREAD_COLOR)
    return None if img is None else (int(img.shape[0]), int(img.shape[1]))


def check_map(map_path: str, rel_map: str, img_hw: Sequence[int],
              rel_img: str) -> Tuple[Optional[str], Optional[np.ndarray]]:
    """Check one saliency map file: it exists, decodes, is single-channel 8- or 16-bit grey and has
    its image's height and width.

    Args:
        map_path (str): the map file.
        rel_map (str): its name for messages (relative to the data root).
        img_hw (Sequence[int]): (H, W) of its image.
        rel_img (str): the image's name for messages.

    Returns:
        tuple: ``(problem, values)``: ``problem`` is None or a message naming the file (for a
        3- or 4-channel file it says whether the channels are equal: a grey map stored as colour
        can be converted, a colour heat map cannot); ``values`` is the (H, W) float64 map in
        [0, 1] (8-bit / 255, 16-bit / 65535, as ``LoadBinaryAnnotations`` reads it) when there is
        no problem, else None.
    """
    if not osp.isfile(map_path):
        return f'missing saliency map {rel_map} for image {rel_img}', None
    raw = decode_image(map_path, cv2.IMREAD_UNCHANGED)
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


def copies_mask(values: np.ndarray, mask_path: str) -> bool:
    """Whether a binary-valued map equals its mask (white > 128, or 0/1) or the mask's inverse.

    Soft maps (more than two values) never count: a thresholded model output may match a mask by
    chance on tiny images, a map holding only 0 and 1 that matches pixel for pixel is a copy.

    Args:
        values (np.ndarray): (H, W) map in [0, 1] (from :func:`check_map`).
        mask_path (str): the image's mask file; a missing or unreadable mask, or one of another
            size, gives False.

    Returns:
        bool: the map is a copy of the mask or of its inverse.
    """
    uniq = np.unique(values)
    if uniq.size > 2 or not np.all(np.isin(uniq, (0.0, 1.0))):
        return False
    mask = decode_image(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != values.shape:
        return False
    white = mask == 1 if mask.max() <= 1 else mask > 128
    sal = values > 0.5
    return bool(np.array_equal(sal, white) or np.array_equal(sal, ~white))


def check_map_folder(stems: Sequence[str],
                     root: str,
                     img_dir: str,
                     map_dir: str,
                     mask_dir: Optional[str] = None,
                     img_suffix: str = '.jpg',
                     mask_suffix: str = '.png',
                     progress: bool = True) -> Tuple[List[str], Dict]:
    """Check the map ``map_dir/<stem>.png`` of every stem (:func:`check_map`).

    Args:
        stems (Sequence[str]): the stems to check.
        root (str): data root (messages name files relative to it).
        img_dir (str): image folder; ``img_dir/<stem><img_suffix>`` must decode.
        map_dir (str): map folder.
        mask_dir (str, optional): mask folder, only to detect maps that copy the masks
            (:func:`copies_mask`). Defaults to None (no such check).
        img_suffix (str): image suffix. Defaults to ``'.jpg'``.
        mask_suffix (str): mask suffix. Defaults to ``'.png'``.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        tuple: ``(problems, stats)``: ``problems`` lists messages (one per bad image); ``stats``
        holds ``maps`` (count of good maps), ``mean`` (mean value over all their pixels, in
        [0, 1], None without maps), ``above_half`` (fraction of pixels > 0.5, None without maps),
        ``constant`` and ``mask_copies`` (relative map names).
    """
    problems, constant, mask_copies = [], [], []
    total, above, pixels, n_maps = 0.0, 0, 0, 0
    for stem in progress_iter(
            stems, total=len(stems), desc='checking saliency maps', enabled=progress):
        img_path = osp.join(img_dir, stem + img_suffix)
        rel_img = osp.relpath(img_path, root)
        rel_map = osp.relpath(osp.join(map_dir, stem + MAP_SUFFIX), root)
        if not osp.isfile(img_path):
            problems.append(f'missing image {rel_img} (listed as {stem!r})')
            continue
        img_hw = read_image_hw(img_path)
        if img_hw is None:
            problems.append(f'unreadable image {rel_img}')
            continue
        problem, values = check_map(osp.join(map_dir, stem + MAP_SUFFIX), rel_map, img_hw, rel_img)
        if problem:
            problems.append(problem)
            continue
        n_maps += 1
        total += float(values.sum())
        above += int(np.count_nonzero(values > 0.5))
        pixels += values.size
        if float(values.max()) == float(values.min()):
            constant.append(rel_map)
        if mask_dir and copies_mask(values, osp.join(mask_dir, stem + mask_suffix)):
            mask_copies.append(rel_map)
    stats = dict(
        maps=n_maps,
        mean=total / pixels if pixels else None,
        above_half=above / pixels if pixels else None,
        constant=constant,
        mask_copies=mask_copies)
    return problems, stats


def _listed_in(path: str, stems: Sequence[str]) -> List[str]:
    """The ``stems`` that the text file ``path`` lists (none when it does not exist)."""
    if not osp.isfile(path):
        return []
    with open(path, encoding='utf-8') as f:
        listed = {line.strip() for line in f if line.strip()}
    return [s for s in stems if s in listed]


# ---------------------------------------------------------------------------- saliency maps
def attach_saliency_maps(data_root: str,
                         images: str = 'images',
                         saliency: str = 'saliency',
                         masks: Optional[str] = 'masks',
                         split_file: str = 'train.txt',
                         all_images: bool = False,
                         img_suffix: str = '.jpg',
                         mask_suffix: str = '.png',
                         out_ann: str = 'train_saliency.txt',
                         overwrite: bool = False,
                         progress: bool = True) -> Dict:
    """Check that every training image has a usable saliency map, then write the split to train
    on (the hard mining of Zhang & Yan, ECCV 2020, Section 3.3, needs a map per image).

    For every stem of the split (``split_file``, or with ``all_images`` every ``*<img_suffix>``
    file below the image folder) ``SALIENCY/<stem>.png`` must exist, decode, be single-channel
    8- or 16-bit grey and have its image's height and width (:func:`check_map`). All problems are
    collected; up to 20 are listed with the total count, and nothing is written. On success the
    annotation file (the stems checked, one per line, in split order) is written atomically and a
    report is printed: statistics (mean saliency, pixels > 0.5, constant maps), warnings (binary
    maps equal to their mask or its inverse when the mask folder exists; with ``all_images``,
    stems also listed in ``val.txt`` / ``test.txt`` under the data root; ``*_overlay.jpg`` files of
    ``tools/infer.py``) and the config lines to use the maps. Folder and file arguments are
    relative to ``data_root`` unless absolute.

    Args:
        data_root (str): dataset root, e.g. ``data/synthetic_defocus``.
        images (str): image folder. Defaults to ``'images'``.
        saliency (str): saliency map folder. Defaults to ``'saliency'``.
        masks (str, optional): mask folder, only to warn about maps that copy the masks; skipped
            when None, empty or missing. Defaults to ``'masks'``.
        split_file (str): file of the training stems (read as the dataset reads it:
            :func:`read_split_stems`). Defaults to ``'train.txt'``.
        all_images (bool): check every image below the image folder instead. Defaults to False.
        img_suffix (str): image suffix. Defaults to ``'.jpg'``.
        mask_suffix (str): mask suffix. Defaults to ``'.png'``.
        out_ann (str): annotation file to write. Defaults to ``'train_saliency.txt'``.
        overwrite (bool): replace an existing ``out_ann`` of other content. Defaults to False.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        dict: ``status`` (``'wrote'`` or ``'unchanged'``), ``ann_file`` (path), ``stems`` and
        ``stats`` (see :func:`check_map_folder`).

    Raises:
        ConversionError: a missing data root / folder / split file, no image, any map problem,
            ``out_ann`` being the split file, or an existing ``out_ann`` of other content without
            ``overwrite``; the message says what to do.
    """
    root = data_root
    if not osp.isdir(root):
        raise ConversionError(f'data root {root!r} does not exist')
    img_dir, sal_dir = _resolve(root, images), _resolve(root, saliency)
    if not osp.isdir(img_dir):
        raise ConversionError(f'image folder {img_dir!r} does not exist (check --data-root and '
                              '--images)')
    if all_images:
        split_path = None
        stems = list_image_stems(img_dir, suffix=img_suffix, recursive=True)
        if not stems:
            raise ConversionError(f'no {img_suffix} image files in {img_dir!r} (check '
                                  '--img-suffix)')
        what = f'the {len(stems)} {img_suffix} image(s) below {img_dir}'
    else:
        split_path = _resolve(root, split_file)
        stems = read_split_stems(split_path)
        what = f'the {len(stems)} image(s) of {split_path}'
    if not osp.isdir(sal_dir):
        raise ConversionError(
            f'saliency folder {sal_dir!r} does not exist, so none of {what} has a map. Make the '
            'maps first (see this tool\'s --help / module docstring): tools/infer.py with a SOD '
            'checkpoint, maps of a published SOD model, or '
            'tools/dataset_converters/classical_saliency.py; never the ground truth')
    ann_path = _resolve(root, out_ann)
    if split_path and osp.abspath(ann_path) == osp.abspath(split_path):
        raise ConversionError(f'--out-ann {ann_path!r} is the split file itself; choose another '
                              'name (default train_saliency.txt)')
    mask_dir = _resolve(root, masks) if masks else None
    if mask_dir and not osp.isdir(mask_dir):
        mask_dir = None

    problems, stats = check_map_folder(stems, root, img_dir, sal_dir, mask_dir, img_suffix,
                                       mask_suffix, progress)
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
        raise ConversionError(
            f'{len(problems)} problem(s) in the saliency maps of {what} (folder {sal_dir}); '
            f'no annotation file written:\n{lines}{more}{hint}')

    text = ''.join(s + '\n' for s in stems)
    status = 'wrote'
    if osp.exists(ann_path):
        with open(ann_path, encoding='utf-8') as f:
            old = f.read()
        if old == text:
            status = 'unchanged'
        elif not overwrite:
            raise ConversionError(
                f'all {len(stems)} saliency maps are fine, but the annotation file {ann_path!r} '
                'already exists with other content; nothing was written. Pass --overwrite to '
                'replace it, or choose another --out-ann')
    if status == 'wrote':
        atomic_write_text(ann_path, text)

    _print_attach_report(root, img_dir, sal_dir, ann_path, stems, stats, what, status, all_images)
    return dict(status=status, ann_file=ann_path, stems=list(stems), stats=stats)


def _print_attach_report(root, img_dir, sal_dir, ann_path, stems, stats, what, status, all_images):
    """The report of :func:`attach_saliency_maps`: statistics, warnings, config lines."""
    print(f'saliency maps OK for {what}: {stats["maps"]} grey map(s) in {sal_dir}, each of its '
          "image's size")
    print(f'  mean saliency {stats["mean"]:.3f}, pixels > 0.5: {100.0 * stats["above_half"]:.1f} %,'
          f' constant maps: {len(stats["constant"])}')
    if stats['constant']:
        print(f'  warning: {len(stats["constant"])} map(s) hold one value only (no saliency '
              f'information for hard mining): {listing(stats["constant"], 5)}')
    if stats['mask_copies']:
        print(f'  WARNING: {len(stats["mask_copies"])} map(s) are binary and equal to their '
              f'image\'s mask (or its inverse): {listing(stats["mask_copies"], 5)}. Saliency '
              'maps must come from a saliency detector run on the image, never from the ground '
              'truth (that leaks the label; a copy of the in-focus mask makes the hard-mining '
              'region, saliency xor in-focus, empty).')
    if all_images:
        for name in HELD_OUT_SPLITS:
            held_out = _listed_in(_resolve(root, name), stems)
            if held_out:
                print(f'  WARNING: {len(held_out)} checked image(s) are listed in {name} (e.g. '
                      f'{listing(held_out, 3)}): an ann_file listing every image would train '
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
    if all_images:
        print('  (the ann_file line is optional when the config lists the whole image folder)')
    print('or in a config file (merged into the base config\'s train dataset):')
    print(f"  train_dataloader = dict(dataset=dict(ann_file='{ann_value}', "
          f"data_prefix=dict(saliency_map_path='{sal_value}')))")
