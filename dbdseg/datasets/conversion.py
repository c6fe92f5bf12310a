"""Dataset conversion: copy a public DBD or SOD release into the layout the dataset configs read.

Output layout (what ``configs/_base_/datasets/*.py`` read)::

    OUT/<split>/images/<stem><img_suffix>
    OUT/<split>/masks/<stem><mask_suffix>
    OUT/splits/{train,val}.txt          (DBD sets: the validation split carved from train,
                                         :mod:`dbdseg.datasets.validation_split`)
    OUT/conversion_report.json

Files are copied byte for byte (same stem, same polarity as the release); only an upper-case suffix
(``.JPG``) is written lower-case, because the dataset classes list files by one exact suffix. Before
anything is written, every image must have its mask (by stem), each mask the size of its image, and
a folder one suffix (other than by case); a non-empty output folder is refused unless
``overwrite``. The mask polarity is checked with :mod:`dbdseg.datasets.polarity`. Every problem
with the release is a :class:`ConversionError` whose message names the file or folder; warnings
(:class:`Warnings`) are printed to stderr and recorded in the report.

Entry points (the scripts in ``tools/dataset_converters/`` parse arguments and call them):

* :func:`convert_release` with :data:`DUT_DBD_SPEC` or :data:`DUTS_SPEC`: a release made of
  ``(images folder, masks folder)`` parts;
* :func:`convert_cuhk_dbd`: the CUHK blur detection set (Shi et al., CVPR 2014), split by a list;
* :func:`convert_folder_pairs`: one split from any images folder + masks folder.

Every release layout and count here comes from the papers and from public code that reads these
datasets; none was checked against a real download (``tools/dataset_converters/README.md`` says
which details are not verified).
"""
import argparse
import datetime
import json
import os
import os.path as osp
import sys
from collections import Counter, namedtuple

import cv2
import numpy as np
from tqdm import tqdm

from dbdseg.utils.fileio import IMG_EXTENSIONS, atomic_copy, atomic_write_json, is_image_file
from .polarity import (WHITE_BACKGROUND, WHITE_BLURRED, WHITE_IN_FOCUS, WHITE_SALIENT,
                       format_polarity, judge_polarity, polarity_statistic)
from .validation_split import TRAIN_LIST, VAL_LIST, VAL_SPLIT_SIZE, write_validation_split

__all__ = [
    'CUHK_DBD_EXPECTED', 'ConversionError', 'DUTS_SPEC', 'DUT_DBD_SPEC', 'Pair', 'REPORT_NAME',
    'Warnings', 'add_common_args', 'build_pairs', 'check_sizes', 'check_xu100', 'common_suffix',
    'convert_cuhk_dbd', 'convert_folder_pairs', 'convert_main', 'convert_release',
    'find_cuhk_release', 'find_dirs', 'finish_conversion', 'listing', 'load_existing_report',
    'locate_parts', 'now_iso', 'prepare_output', 'print_summary', 'progress_iter', 'read_name_list',
    'read_size', 'scan_folder', 'strip_image_ext', 'suffix_arg', 'write_pairs', 'invert_advice'
]

REPORT_NAME = 'conversion_report.json'
MAX_LISTED = 10


class ConversionError(Exception):
    """A problem with the source release or the output folder; the message says which file."""


Pair = namedtuple('Pair', ['split', 'stem', 'image', 'mask'])
Pair.__doc__ = 'One image/mask pair of a split: ``image`` and ``mask`` are source file paths.'


class Warnings(list):
    """A list of warning messages that also prints each one to stderr when it is added."""

    def add(self, message):
        """Record ``message`` and print it as ``warning: <message>``."""
        self.append(message)
        print(f'warning: {message}', file=sys.stderr)


# ---------------------------------------------------------------------------- small helpers
def listing(names, limit=MAX_LISTED):
    """``'a, b, c'`` of at most ``limit`` names, then ``', ... (N more)'``. Defaults to 10."""
    names = [str(n) for n in names]
    text = ', '.join(names[:limit])
    if len(names) > limit:
        text += f', ... ({len(names) - limit} more)'
    return text


def strip_image_ext(name):
    """Drop an image suffix of :data:`~dbdseg.utils.fileio.IMG_EXTENSIONS` (any case).

    ``'a.JPG'`` -> ``'a'``; a name without one is returned unchanged (``'a'``, ``'a.txt'``).
    """
    stem, ext = osp.splitext(name)
    return stem if ext.lower() in IMG_EXTENSIONS else name


def progress_iter(iterable, total=None, desc=None, enabled=True):
    """``iterable`` wrapped in a tqdm progress bar on stderr when ``enabled`` (else as it is).

    Args:
        iterable (Iterable): what to iterate.
        total (int, optional): its length, for the bar. Defaults to None (``len`` when known).
        desc (str, optional): the bar's label. Defaults to None.
        enabled (bool): show the bar. Defaults to True.
    """
    if not enabled:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit='file', dynamic_ncols=True, leave=False)


def read_name_list(path, what='list'):
    """Non-blank, non-``#`` lines of a text file, stripped, in file order.

    Args:
        path (str): the text file (UTF-8).
        what (str): what the file is, for the messages. Defaults to ``'list'``.

    Raises:
        ConversionError: the file does not exist, lists no name, or lists a name twice (the
            message names the file and the repeated names).
    """
    if not osp.isfile(path):
        raise ConversionError(f'{what} file {path!r} does not exist')
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    names = [line for line in lines if line and not line.startswith('#')]
    if not names:
        raise ConversionError(f'{what} file {path!r} lists no names')
    dup = sorted(name for name, n in Counter(names).items() if n > 1)
    if dup:
        raise ConversionError(f'{what} file {path!r} lists names more than once: {listing(dup)}')
    return names


def now_iso():
    """The local time as an ISO 8601 string with the UTC offset, to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec='seconds')


# ---------------------------------------------------------------------------- finding files
def _file_names(folder):
    """Sorted names of every file (not folder, hidden files included) directly in ``folder``."""
    return sorted(n for n in os.listdir(folder) if osp.isfile(osp.join(folder, n)))


def scan_folder(folder, what, suffix=None):
    """Image files directly in ``folder``, by stem.

    Args:
        folder (str): the folder.
        what (str): what the folder holds, for the messages (``'image'``, ``'mask'``).
        suffix (str, optional): only files with this suffix (compared case-insensitively).
            Defaults to None: every suffix of :data:`~dbdseg.utils.fileio.IMG_EXTENSIONS`.

    Returns:
        tuple: ``(files, ignored)``: ``files`` maps stem -> file path; ``ignored`` lists the names
        of the other files (hidden files, non-images, another suffix), sorted.

    Raises:
        ConversionError: the folder does not exist, or two files share a stem (``a.jpg`` and
            ``a.png``, or ``a.jpg`` and ``a.JPG``).
    """
    if not osp.isdir(folder):
        raise ConversionError(f'{what} folder {folder!r} does not exist')
    wanted = (suffix.lower(), ) if suffix else IMG_EXTENSIONS
    files, ignored, clashes = {}, [], []
    for name in _file_names(folder):
        if not is_image_file(name, wanted):
            ignored.append(name)
            continue
        stem = osp.splitext(name)[0]
        if stem in files:
            clashes.append(f'{osp.basename(files[stem])} / {name}')
            continue
        files[stem] = osp.join(folder, name)
    if clashes:
        raise ConversionError(
            f'{what} folder {folder!r} holds several files with the same stem: {listing(clashes)}; '
            'keep one file per stem')
    return files, ignored


def find_dirs(root, names, max_depth=2):
    """Folders named one of ``names`` (case-insensitive) at depth 1..``max_depth`` below ``root``.

    Args:
        root (str): where to search.
        names (list[str]): the folder names.
        max_depth (int): deepest level searched. Defaults to 2.

    Returns:
        dict: name (as given) -> sorted list of the matching folder paths (maybe empty).

    Raises:
        ConversionError: ``root`` is not a folder.
    """
    found = {name: [] for name in names}
    lower = {name.lower(): name for name in names}
    if not osp.isdir(root):
        raise ConversionError(f'source folder {root!r} does not exist')
    level = [root]
    for _ in range(max_depth):
        nxt = []
        for folder in level:
            try:
                entries = sorted(os.listdir(folder))
            except OSError:
                continue
            for entry in entries:
                path = osp.join(folder, entry)
                if not osp.isdir(path):
                    continue
                if entry.lower() in lower:
                    found[lower[entry.lower()]].append(path)
                nxt.append(path)
        level = nxt
    return found


def build_pairs(split, images, masks, image_folder, mask_folder, stems=None):
    """Pair ``images`` and ``masks`` (stem -> path dicts, see :func:`scan_folder`) of one split.

    Args:
        split (str): the split the pairs go to.
        images (dict): stem -> image path.
        masks (dict): stem -> mask path.
        image_folder (str): where the images are, for the messages.
        mask_folder (str): where the masks are, for the messages.
        stems (list, optional): only these stems, in this order (each must have an image and a
            mask). Defaults to None: every image stem, sorted.

    Returns:
        tuple: ``(pairs, orphan_masks)``: the :class:`Pair` list and the sorted stems of masks
        without an image (among the stems not chosen).

    Raises:
        ConversionError: an image (or a listed stem) without a mask, or a listed stem without an
            image, naming up to 10 of them and the folder searched.
    """
    if stems is None:
        stems = sorted(images)
    else:
        no_image = [s for s in stems if s not in images]
        if no_image:
            raise ConversionError(
                f'{len(no_image)} listed name(s) have no image in {image_folder!r}: '
                f'{listing(no_image)}')
    no_mask = [s for s in stems if s not in masks]
    if no_mask:
        names = [osp.basename(images[s]) for s in no_mask]
        raise ConversionError(
            f'{len(no_mask)} image(s) have no mask (same stem, any image suffix) in '
            f'{mask_folder!r}: {listing(names)}')
    chosen = set(stems)
    orphans = sorted(s for s in masks if s not in images and s not in chosen)
    pairs = [Pair(split, s, images[s], masks[s]) for s in stems]
    return pairs, orphans


def common_suffix(paths, what, folder):
    """The one suffix (lower-cased) of ``paths`` and the exact suffixes found with their counts.

    Returns:
        tuple: ``(suffix, found)``: ``suffix`` is None for no path; ``found`` maps each exact
        suffix (``'.JPG'``, ``'.jpg'``) to its count, sorted.

    Raises:
        ConversionError: suffixes differ (other than by case): the dataset classes read one suffix.
    """
    found = Counter(osp.splitext(p)[1] for p in paths)
    lowered = sorted({ext.lower() for ext in found})
    if len(lowered) > 1:
        counts = Counter(osp.splitext(p)[1].lower() for p in paths)
        text = ', '.join(f'{ext} ({counts[ext]})' for ext in lowered)
        raise ConversionError(
            f'{what} files in {folder!r} have mixed suffixes: {text}; the dataset classes read '
            'one suffix per folder: convert them to one format first, or pass the suffix to use')
    return (lowered[0] if lowered else None), dict(sorted(found.items()))


def locate_parts(src, parts, dataset):
    """Find the image and mask folders of each part of a release, at depth 1 or 2 below ``src``.

    Args:
        src (str): the release folder.
        parts (list): ``(split, alternatives, expected_count)`` tuples; ``alternatives`` lists the
            ``(image_folder_name, mask_folder_name)`` pairs a release may use for that part.
        dataset (str): the dataset name, for the messages.

    Returns:
        dict: split -> ``(image_dir, mask_dir)`` for the parts found (at least one).

    Raises:
        ConversionError: a folder name found twice, two layouts for one part, a part with only one
            of its two folders, or no part at all; the messages list what was searched.
    """
    names = [n for _, alternatives, _ in parts for pair in alternatives for n in pair]
    found = find_dirs(src, names, max_depth=2)
    searched = f'searched {src}/<name> and {src}/*/<name> for ' + ', '.join(names)
    twice = {n: p for n, p in found.items() if len(p) > 1}
    if twice:
        text = '; '.join(f'{n}: {listing(p)}' for n, p in twice.items())
        raise ConversionError(f'{dataset}: several folders of the same name under {src!r} ({text});'
                              ' point the converter at one copy')
    located = {}
    for split, alternatives, _ in parts:
        complete = [(found[i][0], found[m][0]) for i, m in alternatives if found[i] and found[m]]
        if len(complete) > 1:
            raise ConversionError(
                f'{dataset}: several copies of the {split} split under {src!r}: '
                f'{listing(osp.dirname(c[0]) for c in complete)}; point the converter at one')
        if complete:
            located[split] = complete[0]
            continue
        for img_name, mask_name in alternatives:
            img_dirs, mask_dirs = found[img_name], found[mask_name]
            if img_dirs or mask_dirs:
                have, lack = ((img_dirs[0], mask_name) if img_dirs else (mask_dirs[0], img_name))
                raise ConversionError(f'{dataset}: found {have!r} but no folder {lack!r} for the '
                                      f'{split} split ({searched})')
    if not located:
        raise ConversionError(f'{dataset}: none of its folders found under {src!r} ({searched})')
    return located


# ---------------------------------------------------------------------------- output
def prepare_output(out, overwrite, what='output folder'):
    """Refuse a non-empty ``out`` unless ``overwrite``; returns its absolute path (not created).

    Raises:
        ConversionError: ``out`` is a file, or a non-empty folder and ``overwrite`` is False (the
            message lists up to 5 of its entries).
    """
    out = osp.abspath(out)
    if osp.exists(out) and not osp.isdir(out):
        raise ConversionError(f'{what} {out!r} exists and is not a folder')
    if osp.isdir(out) and os.listdir(out) and not overwrite:
        entries = sorted(os.listdir(out))
        raise ConversionError(
            f'{what} {out!r} is not empty ({len(entries)} entries: {listing(entries, 5)}); '
            'nothing was written. Choose an empty folder, or pass --overwrite to replace files '
            'of the same name (other files are kept)')
    return out


def write_pairs(pairs, out, img_suffix, mask_suffix, progress=True):
    """Copy every pair to ``out/<split>/{images,masks}/<stem><suffix>``, byte for byte.

    Each file goes through a temporary file and ``os.replace``
    (:func:`dbdseg.utils.fileio.atomic_copy`), so an interrupted run leaves no partial file.

    Args:
        pairs (list[Pair]): what to copy.
        out (str): the output folder.
        img_suffix (str): suffix of the written images (e.g. ``'.jpg'``).
        mask_suffix (str): suffix of the written masks.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        tuple: ``(renamed, stale)``: ``renamed`` lists ``{'from', 'to'}`` for files whose name
        changed (suffix case only); ``stale`` maps each written folder to the files already in it
        that this run did not write (left from before; the dataset reads them too).

    Raises:
        ConversionError: a source file is its own destination.
        OSError: a file cannot be read or written.
    """
    renamed, written = [], {}
    for split in sorted({p.split for p in pairs}):
        for sub in ('images', 'masks'):
            os.makedirs(osp.join(out, split, sub), exist_ok=True)
    for pair in progress_iter(pairs, total=len(pairs), desc='copying', enabled=progress):
        for src, sub, suffix in ((pair.image, 'images', img_suffix), (pair.mask, 'masks',
                                                                      mask_suffix)):
            name = pair.stem + suffix
            folder = osp.join(out, pair.split, sub)
            dst = osp.join(folder, name)
            if osp.exists(dst) and osp.samefile(src, dst):
                raise ConversionError(f'source and destination are the same file: {src!r}')
            atomic_copy(src, dst)
            written.setdefault(folder, set()).add(name)
            if osp.basename(src) != name:
                renamed.append({'from': osp.basename(src), 'to': osp.join(pair.split, sub, name)})
    stale = {}
    for folder, names in written.items():
        extra = [n for n in _file_names(folder) if n not in names]
        if extra:
            stale[folder] = extra
    return renamed, stale


# ---------------------------------------------------------------------------- checks
def read_size(path):
    """``(height, width)`` of an image file (from the header when Pillow reads it).

    Raises:
        ConversionError: neither Pillow nor OpenCV can read the file.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with the environment
        Image = None
    if Image is not None:
        try:
            with Image.open(path) as im:
                w, h = im.size
            return int(h), int(w)
        except Exception:  # noqa: BLE001 - fall back to OpenCV, which reads a few more formats
            pass
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ConversionError(f'cannot read image file {path!r} (missing, empty or not an image)')
    return int(img.shape[0]), int(img.shape[1])


def check_sizes(pairs, progress=True):
    """Read the size of every image and mask; error when a mask's size differs from its image's.

    Args:
        pairs (list[Pair]): the pairs.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        dict: split -> ``{'height': [min, max], 'width': [min, max]}`` in pixels, plus ``'all'``
        (None when there is no pair).

    Raises:
        ConversionError: unreadable files, or masks whose size differs from their image's (up to 10
            named, with both sizes).
    """
    sizes, bad, unreadable = {}, [], []
    for pair in progress_iter(pairs, total=len(pairs), desc='checking sizes', enabled=progress):
        try:
            img_hw = read_size(pair.image)
            mask_hw = read_size(pair.mask)
        except ConversionError as exc:
            unreadable.append(str(exc))
            continue
        if img_hw != mask_hw:
            bad.append(f'{pair.mask} is {mask_hw[0]}x{mask_hw[1]} but {osp.basename(pair.image)} '
                       f'is {img_hw[0]}x{img_hw[1]}')
            continue
        sizes.setdefault(pair.split, []).append(img_hw)
    if unreadable:
        raise ConversionError(f'{len(unreadable)} file(s) cannot be read: {listing(unreadable)}')
    if bad:
        raise ConversionError(
            f'{len(bad)} mask(s) differ in size from their image (H x W): {listing(bad)}')
    result = {}
    every = []
    for split, hw in sizes.items():
        every.extend(hw)
        result[split] = _size_range(hw)
    result['all'] = _size_range(every)
    return result


def _size_range(hw_list):
    if not hw_list:
        return None
    arr = np.asarray(hw_list)
    return {
        'height': [int(arr[:, 0].min()), int(arr[:, 0].max())],
        'width': [int(arr[:, 1].min()), int(arr[:, 1].max())]
    }


# ---------------------------------------------------------------------------- report
def _warn_stale(stale, warnings):
    """One warning per folder of :func:`write_pairs`'s ``stale`` files."""
    for folder, names in stale.items():
        warnings.add(f'{len(names)} file(s) in {folder!r} were there before and were not written '
                     f'by this conversion; the dataset will read them too: {listing(names, 5)}')


def _size_line(size):
    """``'  image size (H x W): 16-32 x 16-40'`` of a :func:`check_sizes` range."""
    return (f'  image size (H x W): {size["height"][0]}-{size["height"][1]} x '
            f'{size["width"][0]}-{size["width"][1]}')


def finish_conversion(pairs,
                      out,
                      report,
                      img_suffix,
                      mask_suffix,
                      warnings,
                      progress=True,
                      report_path=None):
    """Copy the pairs (:func:`write_pairs`), add the outcome to ``report`` and write it atomically.

    ``report`` already holds what the converter knows (dataset, source, polarity...). Added here:
    ``renamed``, ``stale_files`` (when there are any) and ``warnings``.

    Args:
        report_path (str, optional): where the report goes. Defaults to
            ``out/conversion_report.json``.

    Returns:
        dict: ``report``.
    """
    renamed, stale = write_pairs(pairs, out, img_suffix, mask_suffix, progress=progress)
    if renamed:
        report['renamed'] = renamed
        print(f'note: {len(renamed)} file(s) were written with a lower-case suffix (bytes '
              f'unchanged), e.g. {renamed[0]["from"]} -> {renamed[0]["to"]}')
    if stale:
        report['stale_files'] = {osp.relpath(k, out): v for k, v in stale.items()}
        _warn_stale(stale, warnings)
    report['warnings'] = list(warnings)
    atomic_write_json(report_path or osp.join(out, REPORT_NAME), report)
    return report


def print_summary(report, out, warnings):
    """Print a short summary of what a converter wrote (counts, config, sizes, polarity)."""
    counts = ', '.join(f'{split} {n}' for split, n in report['counts'].items())
    print(f'wrote {report["dataset"]} to {out}: {counts} image/mask pairs')
    cfg = report.get('config', {})
    if cfg:
        print('  config: ' + ', '.join(f'{k}={v!r}' for k, v in cfg.items()))
    size = report.get('image_size', {}).get('all') if report.get('image_size') else None
    if size:
        print(_size_line(size))
    print('  ' + format_polarity(report.get('polarity')))
    print(f'  report: {osp.join(out, REPORT_NAME)}')
    if warnings:
        print(f'  {len(warnings)} warning(s), listed above and in the report')


# ---------------------------------------------------------------------------- validation split
def _validation_split(out, train_stems, val_list, strict, warnings):
    """Write ``out/splits/{train,val}.txt`` (:mod:`dbdseg.datasets.validation_split`).

    ``val_list`` (a file of names) must name training images: an error when ``strict``, else a
    warning and the split is drawn from the images found. A training set too small to carve
    :data:`VAL_SPLIT_SIZE` images from gets no split (a warning; the DBD configs then need one
    written by ``tools/dataset_converters/validation_split.py --n N``).

    Returns:
        dict | None: what :func:`write_validation_split` returns; None when no split was written.

    Raises:
        ConversionError: with ``strict``, a name of ``val_list`` that is not a training image.
    """
    val_stems = None
    if val_list:
        val_stems = [strip_image_ext(n) for n in read_name_list(val_list, what='validation list')]
        unknown = sorted(set(val_stems) - set(train_stems))
        if unknown:
            msg = (f'{len(unknown)} name(s) of the validation list {val_list!r} are not training '
                   f'images: {listing(unknown)}')
            if strict:
                raise ConversionError(msg + '; pass --val-list draw to draw the split from the '
                                      'training images found')
            warnings.add(msg + '; the split is drawn from the training images found instead')
            val_stems = None
    if val_stems is None and len(set(train_stems)) <= VAL_SPLIT_SIZE:
        warnings.add(f'only {len(set(train_stems))} training images: no validation split written '
                     f'(the DBD configs read {TRAIN_LIST} and {VAL_LIST}; write them with '
                     f'tools/dataset_converters/validation_split.py OUT --n N)')
        return None
    return write_validation_split(
        out, train_stems, val_stems, source=osp.abspath(val_list) if val_stems else None)


# ---------------------------------------------------------------------------- polarity advice
def invert_advice(invert, config_file):
    """What to pass when the polarity vote contradicts a dataset class's ``invert`` default.

    The advice overrides ``invert`` in every dataloader from the command line or from a user
    config, never by editing a ``_base_`` config inside the package.

    Args:
        invert (bool): the value the data needs.
        config_file (str): the base dataset config the advice is about, for the example.

    Returns:
        str: the ``--cfg-options`` and the equivalent three-line user config.
    """
    value = bool(invert)
    options = ' '.join(f'{loader}_dataloader.dataset.invert={value}'
                       for loader in ('train', 'val', 'test'))
    return (f'Set invert={value} in every dataloader of the configs you run: add --cfg-options '
            f'{options} to tools/train.py and tools/test.py (a test_dataloader over several sets, '
            f'MultiSetDataset, takes test_dataloader.dataset.datasets.<i>.invert={value} for the '
            f'set\'s index i), or write a user config: _base_ = \'<config>.py\' followed by '
            f'train_dataloader = dict(dataset=dict(invert={value})), val_dataloader = '
            f'dict(dataset=dict(invert={value})) and test_dataloader = '
            f'dict(dataset=dict(invert={value})) (e.g. with <config> a config that uses '
            f'{config_file}).')


# ---------------------------------------------------------------------------- DUT, DUTS
#: DUT defocus blur detection set (Zhao et al., BTBNet, CVPR 2018): dut600 = train, dut500 = test,
#: white = in-focus. Folder names of the plain release, of its re-distribution and of the
#: ``DUT-DBD_Dataset`` archive, as public code reads them; the counts are the paper's.
DUT_DBD_SPEC = dict(
    dataset='DUT-DBD',
    converter='tools/dataset_converters/dut_dbd.py',
    parts=[('train', [('dut600-source', 'dut600-gt'),
                      ('DUT600S_Training', 'DUT600GT_Training')], 600),
           ('test', [('dut500-source', 'dut500-gt'),
                     ('DUT500S-Testing', 'DUT500GT-Testing')], 500)],
    task='dbd',
    expected_white=WHITE_IN_FOCUS,
    if_wrong='If the masks really are white = blurred: ' +
    invert_advice(True, 'configs/_base_/datasets/dut_dbd.py'),
    config_file='configs/_base_/datasets/dut_dbd.py',
    val_split=True,
    img_suffix='.jpg',
    mask_suffix='.bmp',
    invert=False)

#: DUTS (Wang et al., CVPR 2017): DUTS-TR = train (10553), DUTS-TE = test (5019), white = salient.
DUTS_SPEC = dict(
    dataset='DUTS',
    converter='tools/dataset_converters/duts.py',
    parts=[('train', [('DUTS-TR-Image', 'DUTS-TR-Mask')], 10553),
           ('test', [('DUTS-TE-Image', 'DUTS-TE-Mask')], 5019)],
    task='sod',
    expected_white=WHITE_SALIENT,
    if_wrong='SOD masks are white = salient; if these really are inverted: ' +
    invert_advice(True, 'configs/_base_/datasets/duts.py'),
    config_file='configs/_base_/datasets/duts.py',
    img_suffix='.jpg',
    mask_suffix='.png',
    invert=False)


def convert_release(src, out, spec, overwrite=False, polarity_samples=50, progress=True):
    """Convert a release made of ``(images folder, masks folder)`` parts (DUT-DBD, DUTS).

    A part that is missing is skipped with a warning; counts other than the release's are a
    warning. The written ``config`` says the suffixes found and the ``invert`` the output needs
    (the spec's, flipped when the polarity vote clearly says the other label).

    Args:
        src (str): the release folder (the part folders are searched one and two levels below).
        out (str): the output folder (must be empty unless ``overwrite``).
        spec (dict): ``dataset``, ``converter``, ``parts`` (see :func:`locate_parts`), ``task``
            (``'dbd'``/``'sod'``), ``expected_white`` (polarity label), ``if_wrong`` (advice when
            the polarity vote disagrees), ``config_file``, ``img_suffix`` and ``mask_suffix`` (what
            the config reads), ``invert`` (its setting) and optionally ``val_split`` (True: carve
            the seeded validation split from the train part,
            :func:`~dbdseg.datasets.validation_split.write_validation_split`); e.g.
            :data:`DUT_DBD_SPEC`.
        overwrite (bool): write into a non-empty ``out`` (same-name files are replaced).
            Defaults to False.
        polarity_samples (int): pairs for the polarity statistic; 0 skips it. Defaults to 50.
        progress (bool): show progress bars. Defaults to True.

    Returns:
        dict: the report written to ``out/conversion_report.json``.

    Raises:
        ConversionError: see :func:`locate_parts`, :func:`scan_folder`, :func:`build_pairs`,
            :func:`common_suffix` and :func:`check_sizes`; also splits with different suffixes.
        OSError: a file cannot be read or written.
    """
    src = osp.abspath(src)
    out = prepare_output(out, overwrite)
    warnings = Warnings()
    dataset = spec['dataset']
    located = locate_parts(src, spec['parts'], dataset)
    expected = {split: count for split, _, count in spec['parts']}
    pairs, per_split = [], {}
    for split, alternatives, _ in spec['parts']:
        if split not in located:
            names = ' or '.join(f'{i} + {m}' for i, m in alternatives)
            warnings.add(f'{dataset}: no {names} folders under {src!r}: the {split} split is not '
                         'converted')
            continue
        img_dir, mask_dir = located[split]
        images, ignored_img = scan_folder(img_dir, f'{dataset} {split} image')
        masks, ignored_mask = scan_folder(mask_dir, f'{dataset} {split} mask')
        if not images:
            raise ConversionError(f'{dataset}: no image files in {img_dir!r}')
        split_pairs, orphans = build_pairs(split, images, masks, img_dir, mask_dir)
        if orphans:
            warnings.add(f'{len(orphans)} mask(s) in {mask_dir!r} have no image (not copied): '
                         f'{listing(orphans)}')
        if len(split_pairs) != expected[split]:
            warnings.add(f'{dataset} {split}: found {len(split_pairs)} image/mask pairs in '
                         f'{img_dir!r}, the release has {expected[split]}')
        img_suffix, img_found = common_suffix([p.image for p in split_pairs], 'image', img_dir)
        mask_suffix, mask_found = common_suffix([p.mask for p in split_pairs], 'mask', mask_dir)
        per_split[split] = {
            'count': len(split_pairs),
            'images_from': img_dir,
            'masks_from': mask_dir,
            'suffixes_found': {
                'images': img_found,
                'masks': mask_found
            },
            'img_suffix': img_suffix,
            'mask_suffix': mask_suffix
        }
        if ignored_img or ignored_mask:
            per_split[split]['ignored_files'] = ignored_img + ignored_mask
        pairs.extend(split_pairs)

    suffixes = {(v['img_suffix'], v['mask_suffix']) for v in per_split.values()}
    if len(suffixes) > 1:
        raise ConversionError(f'{dataset}: the splits use different suffixes '
                              f'({sorted(suffixes)}); the dataset config reads one pair')
    img_suffix, mask_suffix = suffixes.pop()
    for kind, suffix, default in (('img_suffix', img_suffix, spec['img_suffix']),
                                  ('seg_map_suffix', mask_suffix, spec['mask_suffix'])):
        if suffix != default:
            warnings.add(f'{dataset} files are {suffix}, not {default}: set {kind}={suffix!r} in '
                         f'both dataloaders of {spec["config_file"]}')
    sizes = check_sizes(pairs, progress=progress)
    polarity = None
    if polarity_samples > 0:
        polarity = polarity_statistic(pairs, spec['task'], polarity_samples, progress)
        judge_polarity(polarity, spec['expected_white'], warnings, spec['if_wrong'])
    invert = spec['invert']
    if polarity and polarity['majority'] not in (spec['expected_white'], 'undecided', None):
        invert = not invert
    report = {
        'dataset': dataset,
        'converter': spec['converter'],
        'created': now_iso(),
        'source': src,
        'output': out,
        'counts': {
            split: v['count']
            for split, v in per_split.items()
        },
        'expected_counts': {
            split: expected[split]
            for split in per_split
        },
        'splits': per_split,
        'image_size': sizes,
        'polarity': polarity,
        'config': {
            'img_suffix': img_suffix,
            'seg_map_suffix': mask_suffix,
            'invert': invert
        },
    }
    if spec.get('val_split') and 'train' in per_split:
        report['validation_split'] = _validation_split(
            out, [p.stem for p in pairs if p.split == 'train'], None, False, warnings)
    finish_conversion(pairs, out, report, img_suffix, mask_suffix, warnings, progress)
    print_summary(report, out, warnings)
    return report


# ---------------------------------------------------------------------------- CUHK
CUHK_DBD_PREFIX = 'out_of_focus'
CUHK_MOTION_PREFIX = 'motion'
#: The CUHK release's 704 defocus images and the 100 / 604 test / train split of BTBNet and DD.
CUHK_DBD_EXPECTED = dict(total=704, test=100, train=604)
CUHK_DBD_IF_WRONG = ('This may be a re-release already stored as white = in-focus. ' +
                     invert_advice(False, 'configs/_base_/datasets/cuhk_dbd.py'))
XU100_SAME_THRESHOLD = 12


def find_cuhk_release(src):
    """``(image_dir, gt_dir)`` of the CUHK release: ``src/image`` + ``src/gt``, or one level deeper.

    Raises:
        ConversionError: no ``image/`` + ``gt/`` pair side by side, or several (the message lists
            what was searched and found).
    """
    direct = (osp.join(src, 'image'), osp.join(src, 'gt'))
    if all(osp.isdir(d) for d in direct):
        return direct
    found = find_dirs(src, ['image', 'gt'], max_depth=2)
    pairs = [(d, g) for d in found['image'] for g in found['gt']
             if osp.dirname(d) == osp.dirname(g)]
    if len(pairs) == 1:
        return pairs[0]
    if len(pairs) > 1:
        raise ConversionError(
            f'several image/ + gt/ folder pairs under {src!r}: '
            f'{listing([osp.dirname(p[0]) for p in pairs])}; pass the one to convert')
    raise ConversionError(
        f'no CUHK release found under {src!r}: expected the folders image/ and gt/ side by side '
        f'(searched {src}/{{image,gt}}, {src}/*/{{image,gt}}); found image/: '
        f'{found["image"] or "none"}, gt/: {found["gt"] or "none"}')


def _read_test_stems(path, images, image_dir):
    """Stems of the test list; every name must be one of the defocus images."""
    names = read_name_list(path, what='test list')
    stems = [strip_image_ext(n) for n in names]
    missing = [n for n, s in zip(names, stems) if s not in images]
    if missing:
        raise ConversionError(
            f'{len(missing)} test image(s) of {path!r} are not among the {CUHK_DBD_PREFIX}* images '
            f'of {image_dir!r}: {listing(missing)}')
    return stems


def _check_cuhk_counts(n_total, n_test, n_train, strict, warnings, test_list):
    """704 / 100 / 604 or a message naming the counts found (an error when ``strict``)."""
    got = dict(total=n_total, test=n_test, train=n_train)
    if got == CUHK_DBD_EXPECTED:
        return
    exp = CUHK_DBD_EXPECTED
    msg = (f'found {n_total} {CUHK_DBD_PREFIX}* images ({n_test} test from {test_list!r}, '
           f'{n_train} train); the CUHK release has {exp["total"]} ({exp["test"]} test, '
           f'{exp["train"]} train)')
    if strict:
        raise ConversionError(msg + '; pass --no-strict to convert anyway')
    warnings.add(msg)


def _grey_small(path):
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    return cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)


def _similarity(path_a, path_b):
    """``'same'``, ``'inverted'``, ``'different'`` or ``'unreadable'``.

    Same (or inverted) = the grey 64x64 versions differ by a mean absolute difference < 12 grey
    levels (our threshold: re-encoding as BMP/JPEG moves a few levels, other content far more).
    """
    a, b = _grey_small(path_a), _grey_small(path_b)
    if a is None or b is None:
        return 'unreadable'
    if float(abs(a - b).mean()) < XU100_SAME_THRESHOLD:
        return 'same'
    if float(abs(a - (255.0 - b)).mean()) < XU100_SAME_THRESHOLD:
        return 'inverted'
    return 'different'


def check_xu100(xu_dir, index_file, test_stems, images, masks, warnings):
    """Check that the xu100 re-release (``1.bmp ... 100.bmp``) maps onto the CUHK test list.

    Nothing is copied. Every folder among ``xu_dir`` and its sub-folders that holds numbered files
    is checked: all numbers of the index present, sizes equal to the CUHK file the index names,
    and content the same (grey 64x64 mean absolute difference < 12), or inverted (which tells a
    mask folder's polarity). A folder whose name contains ``gt`` or ``mask`` holds masks.

    Args:
        xu_dir (str): the xu100 folder.
        index_file (str): ``"N.bmp out_of_focusNNNN.jpg"`` lines.
        test_stems (list[str]): the CUHK test stems the index must name, in any order.
        images (dict): CUHK stem -> image path.
        masks (dict): CUHK stem -> mask path.
        warnings (Warnings): where warnings go (extra files, size or content mismatches).

    Returns:
        dict: relative folder -> ``role``, ``found``, ``extra``, ``size_mismatch``, ``content``
        (``'same'``/``'inverted'``/``'different'``/``'unreadable'`` -> count).

    Raises:
        ConversionError: no folder, a malformed index or one naming other images than the test
            list, a folder lacking numbered files, or no numbered file at all.
    """
    if not osp.isdir(xu_dir):
        raise ConversionError(f'--xu100 folder {xu_dir!r} does not exist')
    index = {}
    for line in read_name_list(index_file, what='xu100 index'):
        parts = line.split()
        if len(parts) != 2:
            raise ConversionError(
                f'xu100 index {index_file!r}: expected "N.bmp out_of_focusNNNN.jpg", got {line!r}')
        index[strip_image_ext(parts[0])] = strip_image_ext(parts[1])
    if sorted(index.values()) != sorted(test_stems):
        raise ConversionError(f'xu100 index {index_file!r} names other images than the test list '
                              f'({len(set(index.values()) ^ set(test_stems))} differ)')
    candidates = [xu_dir] + [
        osp.join(xu_dir, d) for d in sorted(os.listdir(xu_dir)) if osp.isdir(osp.join(xu_dir, d))
    ]
    result = {}
    for folder in candidates:
        files, _ = scan_folder(folder, 'xu100')
        numbered = {s: p for s, p in files.items() if s.isdigit()}
        if not numbered:
            continue
        name = osp.basename(folder).lower()
        role = 'masks' if ('gt' in name or 'mask' in name) else 'images'
        missing = sorted((n for n in index if n not in numbered), key=int)
        if missing:
            raise ConversionError(
                f'xu100 folder {folder!r} lacks {len(missing)} of the 100 numbered files: '
                f'{listing(m + ".*" for m in missing)}')
        extra = sorted((n for n in numbered if n not in index), key=int)
        size_mismatch, content = [], Counter()
        cuhk = images if role == 'images' else masks
        for n, stem in index.items():
            if read_size(numbered[n]) != read_size(cuhk[stem]):
                size_mismatch.append(f'{osp.basename(numbered[n])} ({stem})')
            content[_similarity(numbered[n], cuhk[stem])] += 1
        result[osp.relpath(folder, xu_dir)] = {
            'role': role,
            'found': len(numbered),
            'extra': extra,
            'size_mismatch': len(size_mismatch),
            'content': dict(content)
        }
        if extra:
            warnings.add(f'xu100 folder {folder!r} holds numbered files outside the index: '
                         f'{listing(extra)}')
        if size_mismatch:
            warnings.add(f'xu100 folder {folder!r}: {len(size_mismatch)} file(s) differ in size '
                         f'from the CUHK {role} the index names: {listing(size_mismatch)}')
        if content['different'] * 2 > len(index):
            warnings.add(f'xu100 folder {folder!r}: {content["different"]} of {len(index)} files '
                         f'do not look like the CUHK {role} the index names')
        elif role == 'masks' and content['inverted'] * 2 > len(index):
            warnings.add(f'xu100 masks in {folder!r} are the CUHK masks inverted (white = '
                         'in-focus): a dataset reading them needs invert=False')
    if not result:
        raise ConversionError(
            f'no numbered files (1.bmp ... 100.bmp) in --xu100 folder {xu_dir!r} or its '
            'sub-folders')
    return result


def convert_cuhk_dbd(src,
                     out,
                     test_list,
                     xu100=None,
                     xu_index=None,
                     strict=True,
                     overwrite=False,
                     polarity_samples=50,
                     progress=True,
                     val_list=None):
    """Convert the CUHK blur detection set (Shi, Xu & Jia, CVPR 2014): its 704 defocus images.

    The release holds ``image/out_of_focusNNNN.jpg`` (a few ``.JPG``) with ``gt/*.png`` masks,
    white = blurred (dataset config ``invert=True``), plus 296 ``motionNNNN`` images (motion blur,
    not DBD data: counted and ignored). Test = the stems of ``test_list``, train = the other
    defocus images; each goes to ``out/{train,test}/{images,masks}``.

    Args:
        src (str): the release folder (``image/`` and ``gt/``, directly or one level down).
        out (str): the output folder (must be empty unless ``overwrite``).
        test_list (str): file of test image names or stems, one per line (the 100-image split of
            BTBNet and DD ships as ``tools/dataset_converters/splits/cuhk_dbd_test100.txt``).
        xu100 (str, optional): also check the xu100 re-release in this folder
            (:func:`check_xu100`); nothing is copied from it. Defaults to None.
        xu_index (str, optional): the ``"N.bmp out_of_focusNNNN.jpg"`` index for ``xu100``;
            required with it. Defaults to None.
        strict (bool): counts other than 704 / 100 / 604 are an error (else a warning).
            Defaults to True.
        overwrite (bool): write into a non-empty ``out``. Defaults to False.
        polarity_samples (int): pairs for the polarity statistic; 0 skips it. Defaults to 50.
        progress (bool): show progress bars. Defaults to True.
        val_list (str, optional): file of the validation image names carved from the training
            images (``out/splits/{train,val}.txt``; the shipped 60-image list is
            ``tools/dataset_converters/splits/cuhk_dbd_val60.txt``). Defaults to None (drawn
            with :func:`~dbdseg.datasets.validation_split.draw_validation_split`).

    Returns:
        dict: the report written to ``out/conversion_report.json``; its ``config['invert']`` is
        False only when the polarity vote says white = in-focus.

    Raises:
        ConversionError: no release found, test names not among the defocus images, images
            without masks, wrong counts (``strict``), mixed suffixes, size mismatches, an xu100
            problem (see :func:`check_xu100`), ``xu100`` without ``xu_index``, or a
            validation name that is not a training image.
        OSError: a file cannot be read or written.
    """
    src = osp.abspath(src)
    out = prepare_output(out, overwrite)
    if xu100 and not xu_index:
        raise ConversionError('the xu100 check needs its index file (--xu-index)')
    warnings = Warnings()
    image_dir, gt_dir = find_cuhk_release(src)

    all_images, ignored = scan_folder(image_dir, 'image')
    all_masks, _ = scan_folder(gt_dir, 'mask (gt)')
    images = {s: p for s, p in all_images.items() if s.startswith(CUHK_DBD_PREFIX)}
    n_motion = sum(s.startswith(CUHK_MOTION_PREFIX) for s in all_images)
    others = sorted(
        osp.basename(p) for s, p in all_images.items()
        if not s.startswith((CUHK_DBD_PREFIX, CUHK_MOTION_PREFIX)))
    if others:
        warnings.add(f'{len(others)} image(s) in {image_dir!r} are neither {CUHK_MOTION_PREFIX}* '
                     f'nor {CUHK_DBD_PREFIX}* and were ignored: {listing(others)}')
    if not images:
        raise ConversionError(f'no {CUHK_DBD_PREFIX}* images in {image_dir!r}')
    masks = {s: p for s, p in all_masks.items() if s.startswith(CUHK_DBD_PREFIX)}

    test_stems = _read_test_stems(test_list, images, image_dir)
    train_stems = sorted(s for s in images if s not in set(test_stems))
    _check_cuhk_counts(len(images), len(test_stems), len(train_stems), strict, warnings, test_list)
    test_pairs, _ = build_pairs('test', images, masks, image_dir, gt_dir, stems=test_stems)
    train_pairs, orphans = build_pairs('train', images, masks, image_dir, gt_dir, stems=train_stems)
    if orphans:
        warnings.add(f'{len(orphans)} {CUHK_DBD_PREFIX}* mask(s) in {gt_dir!r} have no image (not '
                     f'copied): {listing(orphans)}')
    pairs = train_pairs + test_pairs

    img_suffix, img_found = common_suffix([p.image for p in pairs], 'image', image_dir)
    mask_suffix, mask_found = common_suffix([p.mask for p in pairs], 'mask', gt_dir)
    for kind, suffix, default in (('img_suffix', img_suffix, '.jpg'), ('seg_map_suffix',
                                                                       mask_suffix, '.png')):
        if suffix != default:
            warnings.add(f'files are {suffix}, not {default}: set {kind}={suffix!r} in '
                         'configs/_base_/datasets/cuhk_dbd.py')
    sizes = check_sizes(pairs, progress=progress)

    polarity = None
    if polarity_samples > 0:
        polarity = polarity_statistic(pairs, 'dbd', polarity_samples, progress)
        judge_polarity(polarity, WHITE_BLURRED, warnings, CUHK_DBD_IF_WRONG)
    xu100_report = None
    if xu100:
        xu100_report = check_xu100(
            osp.abspath(xu100), xu_index, test_stems, images, masks, warnings)

    invert = not (polarity and polarity['majority'] == WHITE_IN_FOCUS)
    report = {
        'dataset': 'CUHK-DBD',
        'converter': 'tools/dataset_converters/cuhk_dbd.py',
        'created': now_iso(),
        'source': src,
        'output': out,
        'source_folders': {
            'images': image_dir,
            'masks': gt_dir
        },
        'test_list': osp.abspath(test_list),
        'counts': {
            'train': len(train_pairs),
            'test': len(test_pairs)
        },
        'expected_counts': dict(CUHK_DBD_EXPECTED),
        'release_counts': {
            'out_of_focus': len(images),
            'motion': n_motion,
            'masks': len(all_masks)
        },
        'suffixes_found': {
            'images': img_found,
            'masks': mask_found
        },
        'image_size': sizes,
        'polarity': polarity,
        'config': {
            'img_suffix': img_suffix,
            'seg_map_suffix': mask_suffix,
            'invert': invert
        },
    }
    if ignored:
        report['ignored_files'] = ignored
    if xu100_report is not None:
        report['xu100'] = xu100_report
    report['validation_split'] = _validation_split(out, train_stems, val_list, strict, warnings)
    finish_conversion(pairs, out, report, img_suffix, mask_suffix, warnings, progress)
    print_summary(report, out, warnings)
    return report


# ---------------------------------------------------------------------------- folder pairs
def load_existing_report(path, overwrite):
    """The report already at ``path`` (to add a split to); ``{}`` when there is none.

    Raises:
        ConversionError: ``path`` is not a report this module wrote, and ``overwrite`` is False
            (with ``overwrite`` it is replaced: ``{}``).
    """
    if not osp.exists(path):
        return {}
    try:
        with open(path, encoding='utf-8') as f:
            report = json.load(f)
        if not isinstance(report, dict) or not isinstance(report.get('counts', {}), dict):
            raise ValueError('not a report object')
        return report
    except (OSError, ValueError) as exc:
        if overwrite:
            return {}
        raise ConversionError(
            f'{path!r} exists but is not a conversion report this tool can add to ({exc}); '
            'move it away or pass --overwrite to replace it')


def convert_folder_pairs(images,
                         masks,
                         out,
                         split='test',
                         img_suffix=None,
                         mask_suffix=None,
                         task='sod',
                         stems_file=None,
                         name=None,
                         overwrite=False,
                         polarity_samples=50,
                         progress=True):
    """Copy an images folder and a masks folder, paired by stem, into ``out/<split>``.

    Only ``out/<split>`` must be empty, so the splits of one dataset are converted one call each;
    each call adds its entry to ``out/conversion_report.json`` (``counts``, ``splits[<split>]``;
    earlier entries are kept). Every image needs a mask and every mask an image, unless
    ``stems_file`` picks the pairs. The polarity vote sets the ``invert`` of the entry's config:
    SOD (expected white = salient) False unless most masks read as white = background; DBD True
    when white reads as blurred, None (with a warning) when undecided.

    Args:
        images (str): folder of images.
        masks (str): folder of masks (same stems).
        out (str): the dataset folder.
        split (str): the split folder to write, a plain folder name. Defaults to ``'test'``.
        img_suffix (str, optional): only images with this suffix (any case). Defaults to None:
            detected, an error when mixed.
        mask_suffix (str, optional): the same for masks. Defaults to None.
        task (str): ``'sod'`` or ``'dbd'``: which polarity statistic. Defaults to ``'sod'``.
        stems_file (str, optional): file of the stems (or file names) to copy, one per line.
            Defaults to None: every image.
        name (str, optional): dataset name for a new report. Defaults to the ``out`` folder name.
        overwrite (bool): write into a non-empty ``out/<split>``, and replace a report this
            module cannot read. Defaults to False.
        polarity_samples (int): pairs for the polarity statistic; 0 skips it. Defaults to 50.
        progress (bool): show progress bars. Defaults to True.

    Returns:
        dict: the whole report written to ``out/conversion_report.json``.

    Raises:
        ValueError: ``task`` is neither ``'sod'`` nor ``'dbd'``.
        ConversionError: ``out`` is a file, ``out/<split>`` is not empty, unpaired files, mixed
            suffixes, size mismatches, or an unreadable report (see :func:`load_existing_report`).
        OSError: a file cannot be read or written.
    """
    if task not in ('sod', 'dbd'):
        raise ValueError(f"task must be 'sod' or 'dbd', got {task!r}")
    out = osp.abspath(out)
    if osp.exists(out) and not osp.isdir(out):
        raise ConversionError(f'output folder {out!r} exists and is not a folder')
    prepare_output(osp.join(out, split), overwrite, what='output split folder')
    report_path = osp.join(out, REPORT_NAME)
    report = load_existing_report(report_path, overwrite)
    warnings = Warnings()
    img_dir, mask_dir = osp.abspath(images), osp.abspath(masks)

    image_files, ignored_img = scan_folder(img_dir, 'image', suffix=img_suffix)
    mask_files, ignored_mask = scan_folder(mask_dir, 'mask', suffix=mask_suffix)
    if not image_files:
        what = f'{img_suffix} ' if img_suffix else ''
        raise ConversionError(f'no {what}image files in {img_dir!r}')
    stems = None
    if stems_file:
        stems = [strip_image_ext(n) for n in read_name_list(stems_file, what='--stems')]
    else:
        no_image = sorted(s for s in mask_files if s not in image_files)
        if no_image:
            names = [osp.basename(mask_files[s]) for s in no_image]
            raise ConversionError(
                f'{len(no_image)} mask(s) in {mask_dir!r} have no image (same stem) in '
                f'{img_dir!r}: {listing(names)}')
    pairs, _ = build_pairs(split, image_files, mask_files, img_dir, mask_dir, stems=stems)
    img_suffix, img_found = common_suffix([p.image for p in pairs], 'image', img_dir)
    mask_suffix, mask_found = common_suffix([p.mask for p in pairs], 'mask', mask_dir)
    sizes = check_sizes(pairs, progress=progress)

    polarity, invert = None, None
    if polarity_samples > 0:
        polarity = polarity_statistic(pairs, task, polarity_samples, progress)
        if task == 'sod':
            judge_polarity(
                polarity, WHITE_SALIENT, warnings,
                'SOD releases store white = salient; if these masks really are inverted, set '
                'invert=True in the dataset config.')
            invert = polarity['majority'] == WHITE_BACKGROUND
        elif polarity['majority'] in (WHITE_IN_FOCUS, WHITE_BLURRED):
            invert = polarity['majority'] == WHITE_BLURRED
        else:
            warnings.add(f'mask polarity undecided ({polarity["votes"]}): look at a few masks '
                         'and set invert= in the dataset config yourself (invert=True when white '
                         '= blurred)')
    elif task == 'sod':
        invert = False

    renamed, stale = write_pairs(pairs, out, img_suffix, mask_suffix, progress=progress)
    _warn_stale(stale, warnings)
    entry = {
        'created': now_iso(),
        'converter': 'tools/dataset_converters/folder_pairs.py',
        'count': len(pairs),
        'images_from': img_dir,
        'masks_from': mask_dir,
        'stems_file': osp.abspath(stems_file) if stems_file else None,
        'task': task,
        'suffixes_found': {
            'images': img_found,
            'masks': mask_found
        },
        'image_size': sizes.get(split),
        'polarity': polarity,
        'config': {
            'img_suffix': img_suffix,
            'seg_map_suffix': mask_suffix,
            'invert': invert
        },
        'warnings': list(warnings),
    }
    if ignored_img or ignored_mask:
        entry['ignored_files'] = {'images': ignored_img, 'masks': ignored_mask}
    if stems is not None:
        entry['not_listed'] = {
            'images': len(image_files) - len(pairs),
            'masks': len(mask_files) - len(pairs)
        }
    if renamed:
        entry['renamed'] = renamed
    if stale:
        entry['stale_files'] = {osp.relpath(k, out): v for k, v in stale.items()}
    report.setdefault('dataset', name or osp.basename(out.rstrip(os.sep)))
    report.setdefault('converter', 'tools/dataset_converters/folder_pairs.py')
    report['output'] = out
    report['updated'] = entry['created']
    report.setdefault('counts', {})[split] = len(pairs)
    report.setdefault('splits', {})[split] = entry
    report.setdefault('warnings', [])
    report['warnings'] = [w for w in report['warnings'] if not w.startswith(f'[{split}] ')]
    report['warnings'] += [f'[{split}] {w}' for w in warnings]
    atomic_write_json(report_path, report)

    print(f'wrote {len(pairs)} image/mask pairs to {osp.join(out, split)} '
          f'(images {img_suffix}, masks {mask_suffix})')
    if renamed:
        print(f'  {len(renamed)} file(s) written with a lower-case suffix (bytes unchanged)')
    if sizes.get('all'):
        print(_size_line(sizes['all']))
    print('  ' + format_polarity(polarity))
    invert_text = '?' if invert is None else repr(invert)
    print(f"  config: data_prefix=dict(img_path='{split}/images', "
          f"seg_map_path='{split}/masks'), img_suffix={img_suffix!r}, "
          f'seg_map_suffix={mask_suffix!r}, invert={invert_text}')
    print(f'  report: {report_path}')
    if warnings:
        print(f'  {len(warnings)} warning(s), listed above and in the report')
    return report


# ---------------------------------------------------------------------------- CLI helpers
# Shared by the scripts of tools/dataset_converters/ (a script cannot import a sibling script
# without a sys.path edit, so the parts of their command lines they share live here).
def add_common_args(parser):
    """Add ``--overwrite``, ``--polarity-samples N`` (default 50) and ``--no-progress``.

    Args:
        parser (argparse.ArgumentParser): the converter's parser.
    """
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='write into a non-empty output folder (files of the same name are replaced, '
        'other files are kept)')
    parser.add_argument(
        '--polarity-samples',
        type=int,
        default=50,
        metavar='N',
        help='images (evenly spread) for the mask polarity statistic; 0 = skip (default 50)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')


def suffix_arg(text):
    """argparse type of suffix options: ``jpg`` or ``.jpg`` -> ``.jpg`` (blanks around dropped).

    Raises:
        argparse.ArgumentTypeError: an empty suffix.
    """
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError('empty suffix')
    return text if text.startswith('.') else '.' + text


def convert_main(run, argv=None):
    """Run ``run(argv)``; on a :class:`ConversionError` or ``OSError`` print ``error: ...``.

    Returns:
        int: what ``run`` returned, or 2 after an error (message on stderr).
    """
    try:
        return run(argv)
    except (ConversionError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
