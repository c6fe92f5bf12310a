"""Shared helpers of the dataset converters in ``tools/dataset_converters/``.

The converters copy a public release into the layout the dataset configs read::

    OUT/<split>/images/<stem><img_suffix>
    OUT/<split>/masks/<stem><mask_suffix>
    OUT/conversion_report.json

Files are copied byte for byte (same stem, same polarity as the release); only an upper-case suffix
(``.JPG``) is written lower-case, because the dataset classes list files by an exact suffix.

This module needs only the standard library, numpy, OpenCV and (optionally) Pillow and tqdm: it does
not import ``dbdseg`` (that would import mmseg and take seconds). The polarity statistic uses
``dbdseg/utils/sharpness.py`` (``gradient_energy_map``), loaded by path when the file is there, else
an equivalent energy-of-Laplacian written here.

The converters load it by putting their own folder on ``sys.path``.
"""
import datetime
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys
import uuid
from collections import Counter, namedtuple

import cv2
import numpy as np

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - tqdm comes with the environment
    tqdm = None

__all__ = [
    'IMAGE_EXTS', 'REPORT_NAME', 'ConversionError', 'Pair', 'Warnings', 'add_common_args',
    'build_pairs', 'check_sizes', 'common_suffix', 'convert_main', 'convert_release', 'copy_atomic',
    'dbd_vote', 'find_dirs', 'finish_conversion', 'judge_polarity', 'list_names',
    'load_sharpness_fn', 'locate_parts', 'polarity_statistic', 'prepare_output', 'print_summary',
    'progress_iter', 'read_name_list', 'read_size', 'sample_evenly', 'scan_folder', 'sod_vote',
    'strip_image_ext', 'write_json_atomic', 'write_pairs'
]

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')
REPORT_NAME = 'conversion_report.json'
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAX_LISTED = 10

# polarity labels (what a white mask pixel means)
WHITE_IN_FOCUS = 'white = in-focus'
WHITE_BLURRED = 'white = blurred'
WHITE_SALIENT = 'white = salient'
WHITE_BACKGROUND = 'white = background'


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
    """``'a, b, c'`` of at most ``limit`` names, then ``'... (N more)'``."""
    names = [str(n) for n in names]
    text = ', '.join(names[:limit])
    if len(names) > limit:
        text += f', ... ({len(names) - limit} more)'
    return text


def split_ext(name):
    """``(stem, ext)`` of a file name; ``ext`` keeps its case (``'.JPG'``)."""
    return osp.splitext(name)


def strip_image_ext(name):
    """Drop a known image suffix (any case): ``'a.JPG'`` -> ``'a'``, ``'a'`` -> ``'a'``."""
    stem, ext = split_ext(name)
    return stem if ext.lower() in IMAGE_EXTS else name


def progress_iter(iterable, total=None, desc=None, enabled=True):
    """``iterable`` wrapped in a tqdm progress bar (on stderr) when ``enabled`` and tqdm exists."""
    if not enabled or tqdm is None:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit='file', dynamic_ncols=True, leave=False)


def sample_evenly(items, n):
    """At most ``n`` items of ``items`` at evenly spread positions (first and last included)."""
    items = list(items)
    if n <= 0 or not items:
        return []
    if n >= len(items):
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def read_name_list(path, what='list'):
    """Non-blank, non-``#`` lines of a text file (stripped); errors name the file."""
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


# ---------------------------------------------------------------------------- finding files
def list_names(folder):
    """Sorted file names (not folders) directly in ``folder``."""
    return sorted(n for n in os.listdir(folder) if osp.isfile(osp.join(folder, n)))


def scan_folder(folder, what, suffix=None):
    """Image files directly in ``folder`` by stem.

    Args:
        folder (str): the folder.
        what (str): what the folder holds, for the messages (``'image'``, ``'mask'``).
        suffix (str, optional): only files with this suffix (compared case-insensitively);
            default: every known image suffix (``IMAGE_EXTS``).

    Returns:
        tuple: ``(files, ignored)``: ``files`` maps stem -> file path; ``ignored`` lists the names
        of the other files (not images, or another suffix).

    Raises:
        ConversionError: the folder does not exist, or two files share a stem (``a.jpg`` and
            ``a.png``, or ``a.jpg`` and ``a.JPG``).
    """
    if not osp.isdir(folder):
        raise ConversionError(f'{what} folder {folder!r} does not exist')
    wanted = (suffix.lower(), ) if suffix else IMAGE_EXTS
    files, ignored, clashes = {}, [], []
    for name in list_names(folder):
        stem, ext = split_ext(name)
        if ext.lower() not in wanted or name.startswith('.'):
            ignored.append(name)
            continue
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

    Returns:
        dict: name (as given) -> sorted list of the matching folder paths (maybe empty).
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
    """Pair ``images`` and ``masks`` (stem -> path dicts) of one split.

    Args:
        stems (list, optional): only these stems, in this order (each must have an image and a
            mask); default: every image stem, sorted.

    Returns:
        tuple: ``(pairs, orphan_masks)``: sorted/listed pairs and the stems of masks without image.

    Raises:
        ConversionError: an image (or a listed stem) without a mask, naming up to 10 of them with
            the folder searched.
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

    Raises:
        ConversionError: suffixes differ (other than by case): the dataset classes read one suffix.
    """
    found = Counter(split_ext(p)[1] for p in paths)
    lowered = sorted({ext.lower() for ext in found})
    if len(lowered) > 1:
        counts = Counter(split_ext(p)[1].lower() for p in paths)
        text = ', '.join(f'{ext} ({counts[ext]})' for ext in lowered)
        raise ConversionError(
            f'{what} files in {folder!r} have mixed suffixes: {text}; the dataset classes read '
            'one suffix per folder: convert them to one format first, or pass the suffix to use')
    return (lowered[0] if lowered else None), dict(sorted(found.items()))


# ---------------------------------------------------------------------------- output
def prepare_output(out, overwrite, what='output folder'):
    """Refuse a non-empty ``out`` unless ``overwrite``; returns its absolute path (not created)."""
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


def copy_atomic(src, dst):
    """Copy ``src`` to ``dst`` byte for byte through a temporary file and ``os.replace``."""
    if osp.exists(dst) and osp.samefile(src, dst):
        raise ConversionError(f'source and destination are the same file: {src!r}')
    folder, name = osp.split(dst)
    tmp = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path, obj):
    """Write ``obj`` as indented JSON to ``path`` through a temporary file and ``os.replace``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write('\n')
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_pairs(pairs, out, img_suffix, mask_suffix, progress=True):
    """Copy every pair to ``out/<split>/{images,masks}/<stem><suffix>``.

    Returns:
        tuple: ``(renamed, stale)``: ``renamed`` lists ``{'from', 'to'}`` for files whose name
        changed (suffix case only); ``stale`` maps each written folder to the files already in it
        that this run did not write (left from before; the dataset reads them too).
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
            copy_atomic(src, osp.join(folder, name))
            written.setdefault(folder, set()).add(name)
            if osp.basename(src) != name:
                renamed.append({'from': osp.basename(src), 'to': osp.join(pair.split, sub, name)})
    stale = {}
    for folder, names in written.items():
        extra = [n for n in list_names(folder) if n not in names]
        if extra:
            stale[folder] = extra
    return renamed, stale


# ---------------------------------------------------------------------------- checks
def read_size(path):
    """``(height, width)`` of an image file (header only when Pillow is there)."""
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

    Returns:
        dict: split -> ``{'height': [min, max], 'width': [min, max]}``, plus ``'all'``.

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


# ---------------------------------------------------------------------------- polarity
def _laplacian_energy(image, window=15, sigma=None):
    """Fallback of ``dbdseg.utils.sharpness.gradient_energy_map``: box mean of squared Laplacian."""
    grey = image.astype(np.float32) / 255.0
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return cv2.blur(lap * lap, (window, window))


def load_sharpness_fn():
    """``(fn, name)``: dbdseg's ``gradient_energy_map`` (loaded by path) or the local fallback."""
    path = osp.join(REPO_ROOT, 'dbdseg', 'utils', 'sharpness.py')
    mod_name = 'dbdseg_converters_sharpness'
    try:
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[mod_name] = module
        fn = module.gradient_energy_map
        fn(np.zeros((8, 8), np.uint8), window=3)  # the signature this module relies on
        return fn, 'dbdseg.utils.sharpness.gradient_energy_map'
    except Exception:  # noqa: BLE001 - any problem: use the equivalent local measure
        return _laplacian_energy, 'energy of Laplacian (OpenCV; converter fallback)'


def _binary_white(mask):
    """Boolean white map of a grey mask: values 0/1 as they are, else > 128 (pysodmetrics' rule)."""
    if mask.max() <= 1:
        return mask == 1
    return mask > 128


def _window(h, w):
    """Odd sharpness window for an image size: about 1/40 of the short side, in [3, 15]."""
    return int(max(3, min(15, (min(h, w) // 40) | 1)))


def dbd_vote(image_path, mask_path, sharpness_fn):
    """``'in-focus'`` if the white mask area is sharper than the black one.

    Otherwise ``'blurred'`` if less sharp, ``'uniform'`` for a one-valued mask, ``'tie'``, or
    ``'unreadable'``.
    """
    img = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if img is None or mask is None or img.shape != mask.shape:
        return 'unreadable'
    white = _binary_white(mask)
    if white.all() or not white.any():
        return 'uniform'
    sharp = sharpness_fn(img, window=_window(*img.shape))
    mean_white, mean_black = float(sharp[white].mean()), float(sharp[~white].mean())
    if mean_white > mean_black:
        return 'in-focus'
    if mean_white < mean_black:
        return 'blurred'
    return 'tie'


def sod_vote(mask_path):
    """``'salient'`` if white covers less of a 5 % border band than of the whole mask.

    Otherwise ``'background'`` if more, ``'uniform'`` for a one-valued mask, ``'tie'``, or
    ``'unreadable'``.
    """
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return 'unreadable'
    white = _binary_white(mask)
    if white.all() or not white.any():
        return 'uniform'
    h, w = white.shape
    bh, bw = max(1, int(round(0.05 * h))), max(1, int(round(0.05 * w)))
    border = np.zeros_like(white)
    border[:bh], border[-bh:], border[:, :bw], border[:, -bw:] = True, True, True, True
    border_frac, overall = float(white[border].mean()), float(white.mean())
    if border_frac < overall:
        return 'salient'
    if border_frac > overall:
        return 'background'
    return 'tie'


def polarity_statistic(pairs, task, samples=50, progress=True):
    """Vote on what white means in the masks, on at most ``samples`` evenly spread pairs.

    DBD (``task='dbd'``): per image, the mean local sharpness (gradient energy of the grey image)
    inside white mask pixels vs inside black ones; in-focus regions are sharper, so a sharper white
    area votes ``white = in-focus``. SOD (``task='sod'``): salient objects rarely touch the image
    border, so a white fraction on a 5 % border band below the overall white fraction votes
    ``white = salient``. Masks of one value (all white/black) are skipped and counted.

    Returns:
        dict: ``task``, ``method``, ``sampled``, ``votes`` (label -> count), ``skipped_uniform``,
        ``ties``, ``unreadable``, ``fractions`` (label -> share of the votes), ``majority`` (a
        label, ``'undecided'`` or ``None`` when nothing voted).
    """
    if task not in ('dbd', 'sod'):
        raise ValueError(f"task must be 'dbd' or 'sod', got {task!r}")
    chosen = sample_evenly(pairs, samples)
    if task == 'dbd':
        fn, fn_name = load_sharpness_fn()
        labels = {'in-focus': WHITE_IN_FOCUS, 'blurred': WHITE_BLURRED}
        method = (f'mean local sharpness ({fn_name}) of the grey image inside white (> 128) vs '
                  'black mask pixels; sharper white = in-focus')
    else:
        labels = {'salient': WHITE_SALIENT, 'background': WHITE_BACKGROUND}
        method = ('white fraction on a 5% border band vs in the whole mask; less white on the '
                  'border = salient')
    counts = Counter()
    for pair in progress_iter(chosen, total=len(chosen), desc='polarity', enabled=progress):
        vote = dbd_vote(pair.image, pair.mask, fn) if task == 'dbd' else sod_vote(pair.mask)
        counts[vote] += 1
    votes = {label: counts[key] for key, label in labels.items()}
    total = sum(votes.values())
    fractions = {label: (n / total if total else None) for label, n in votes.items()}
    a, b = list(votes)
    if total == 0:
        majority = None
    elif votes[a] == votes[b]:
        majority = 'undecided'
    else:
        majority = a if votes[a] > votes[b] else b
    return {
        'task': task,
        'method': method,
        'sampled': len(chosen),
        'of_pairs': len(pairs),
        'votes': votes,
        'fractions': fractions,
        'skipped_uniform': counts['uniform'],
        'ties': counts['tie'],
        'unreadable': counts['unreadable'],
        'majority': majority,
    }


def judge_polarity(stat, expected, warnings, if_wrong):
    """Compare the vote with the release's documented polarity; add a loud warning if it disagrees.

    Args:
        stat (dict): :func:`polarity_statistic` result; gets ``expected`` and ``agrees`` keys.
        expected (str): the label the release should read as (e.g. ``'white = blurred'``).
        warnings (Warnings): where warnings go.
        if_wrong (str): what the user should do when most images disagree (config flag).
    """
    stat['expected'] = expected
    total = sum(stat['votes'].values())
    if total == 0:
        stat['agrees'] = None
        if stat['sampled']:
            warnings.add(f'polarity could not be checked: none of the {stat["sampled"]} sampled '
                         'masks had both white and black pixels')
        return
    agree = stat['votes'].get(expected, 0)
    stat['agrees'] = agree * 2 > total
    if agree * 2 < total:
        other = [label for label in stat['votes'] if label != expected][0]
        warnings.add(
            f'POLARITY: {total - agree} of {total} sampled images read as "{other}", but this '
            f'release is documented as "{expected}". {if_wrong} Look at a few masks next to '
            'their images before training.')
    elif agree * 2 == total:
        warnings.add(f'polarity undecided: {agree} of {total} sampled images read as '
                     f'"{expected}" (expected); look at a few masks next to their images')


# ---------------------------------------------------------------------------- CLI helpers
def add_common_args(parser, out_positional=True):
    """Add ``--overwrite``, ``--polarity-samples`` and ``--no-progress`` to ``parser``."""
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


def now_iso():
    """The local time as an ISO 8601 string (seconds)."""
    return datetime.datetime.now().astimezone().isoformat(timespec='seconds')


def finish_conversion(pairs,
                      out,
                      report,
                      img_suffix,
                      mask_suffix,
                      warnings,
                      progress=True,
                      report_path=None):
    """Copy the pairs, add the outcome to ``report``, write it atomically and return it.

    ``report`` already holds what the converter knows (dataset, source, polarity...). Added here:
    ``counts``, ``renamed``, ``stale_files`` and ``warnings``.
    """
    renamed, stale = write_pairs(pairs, out, img_suffix, mask_suffix, progress=progress)
    if renamed:
        report['renamed'] = renamed
        print(f'note: {len(renamed)} file(s) were written with a lower-case suffix (bytes '
              f'unchanged), e.g. {renamed[0]["from"]} -> {renamed[0]["to"]}')
    if stale:
        report['stale_files'] = {osp.relpath(k, out): v for k, v in stale.items()}
        for folder, names in stale.items():
            warnings.add(f'{len(names)} file(s) in {folder!r} were there before and were not '
                         f'written by this conversion; the dataset will read them too: '
                         f'{listing(names, 5)}')
    report['warnings'] = list(warnings)
    write_json_atomic(report_path or osp.join(out, REPORT_NAME), report)
    return report


def format_polarity(stat):
    """One line about a :func:`polarity_statistic` result."""
    if stat is None:
        return 'polarity: not checked (--polarity-samples 0)'
    total = sum(stat['votes'].values())
    if total == 0:
        return f'polarity: no usable mask among {stat["sampled"]} sampled'
    parts = ', '.join(f'{n} "{label}"' for label, n in stat['votes'].items())
    extra = ''
    if stat['skipped_uniform']:
        extra = f', {stat["skipped_uniform"]} one-valued mask(s) skipped'
    expected = f'; expected "{stat["expected"]}"' if stat.get('expected') else ''
    return f'polarity vote on {stat["sampled"]} sampled pair(s): {parts}{extra}{expected}'


def print_summary(report, out, warnings):
    """Print a short summary of what a converter wrote."""
    counts = ', '.join(f'{split} {n}' for split, n in report['counts'].items())
    print(f'wrote {report["dataset"]} to {out}: {counts} image/mask pairs')
    cfg = report.get('config', {})
    if cfg:
        print('  config: ' + ', '.join(f'{k}={v!r}' for k, v in cfg.items()))
    size = report.get('image_size', {}).get('all') if report.get('image_size') else None
    if size:
        print(f'  image size (H x W): {size["height"][0]}-{size["height"][1]} x '
              f'{size["width"][0]}-{size["width"][1]}')
    print('  ' + format_polarity(report.get('polarity')))
    print(f'  report: {osp.join(out, REPORT_NAME)}')
    if warnings:
        print(f'  {len(warnings)} warning(s), listed above and in the report')


def locate_parts(src, parts, dataset):
    """Find the image and mask folders of each part of a release, at depth 1 or 2 below ``src``.

    Args:
        parts (list): ``(split, alternatives, expected_count)`` tuples; ``alternatives`` lists the
            ``(image_folder_name, mask_folder_name)`` pairs a release may use for that part.

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


def convert_release(args, spec):
    """Convert a release made of ``(images folder, masks folder)`` parts (DUT, DUTS).

    Args:
        args (argparse.Namespace): ``src``, ``out``, ``overwrite``, ``polarity_samples``,
            ``no_progress``.
        spec (dict): ``dataset``, ``converter``, ``parts`` (see :func:`locate_parts`), ``task``
            (``'dbd'``/``'sod'``), ``expected_white`` (polarity label), ``if_wrong`` (advice when
            the polarity vote disagrees), ``config_file``, ``img_suffix`` and ``mask_suffix`` (what
            the config reads) and ``invert`` (its setting).

    Returns:
        dict: the report written to ``OUT/conversion_report.json``.
    """
    progress = not args.no_progress
    src = osp.abspath(args.src)
    out = prepare_output(args.out, args.overwrite)
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
    if args.polarity_samples > 0:
        polarity = polarity_statistic(pairs, spec['task'], args.polarity_samples, progress)
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
    finish_conversion(pairs, out, report, img_suffix, mask_suffix, warnings, progress)
    print_summary(report, out, warnings)
    return report


def convert_main(run, argv=None):
    """Run ``run(argv)``; print ``error: ...`` to stderr and return 2 on a conversion error."""
    try:
        return run(argv)
    except (ConversionError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2


def suffix_arg(text):
    """argparse type of suffix options: ``jpg`` or ``.jpg`` -> ``.jpg``.

    Raises:
        argparse.ArgumentTypeError: an empty suffix.
    """
    import argparse
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError('empty suffix')
    return text if text.startswith('.') else '.' + text
