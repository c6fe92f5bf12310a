#!/usr/bin/env python
"""Convert the CUHK blur detection release (Shi et al., CVPR 2014) to dbdseg's DBD layout.

The release holds 1000 partially blurred images: 296 ``motionNNNN`` and 704 ``out_of_focusNNNN``.
Only the 704 defocus images are defocus blur detection data. Expected release layout::

    SRC/image/out_of_focus0001.jpg ...   (also motionNNNN.jpg, ignored; a few are .JPG)
    SRC/gt/out_of_focus0001.png ...      (white = BLURRED)

Output (what ``configs/_base_/datasets/cuhk_dbd.py`` reads, ``invert=True``)::

    OUT/test/images/<stem>.jpg   OUT/test/masks/<stem>.png     the 100 images of --test-list
    OUT/train/images/<stem>.jpg  OUT/train/masks/<stem>.png    the other 604
    OUT/conversion_report.json

Files are copied byte for byte; an upper-case ``.JPG`` is written as ``.jpg`` (the dataset reads one
exact suffix). Example::

    python tools/dataset_converters/cuhk_dbd.py ~/Downloads/CUHK data/cuhk_dbd
"""
import argparse
import os
import os.path as osp
import sys
from collections import Counter

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _converter_utils as cu  # noqa: E402

DATASET = 'CUHK-DBD'
DBD_PREFIX = 'out_of_focus'
MOTION_PREFIX = 'motion'
EXPECTED = dict(total=704, test=100, train=604)
DEFAULT_TEST_LIST = osp.join(_HERE, 'splits', 'cuhk_dbd_test100.txt')
DEFAULT_XU_INDEX = osp.join(_HERE, 'splits', 'cuhk_dbd_test100_xu_index.txt')
IF_WRONG = ('This may be a re-release already stored as white = in-focus: then set invert=False '
            'in both dataloaders of configs/_base_/datasets/cuhk_dbd.py (and in configs that copy '
            'it).')


def parse_args(argv=None):
    """Command line of the CUHK converter."""
    parser = argparse.ArgumentParser(
        description='Copy the 704 defocus images of the CUHK blur detection release into '
        'OUT/{train,test}/{images,masks} (100 test images from --test-list, 604 train).')
    parser.add_argument('src', help='the release folder (holds image/ and gt/)')
    parser.add_argument('out', help='output folder, e.g. data/cuhk_dbd')
    parser.add_argument(
        '--test-list',
        default=DEFAULT_TEST_LIST,
        help='file of test image names, one per line (default: the 100-image split of BTBNet/DD, '
        'tools/dataset_converters/splits/cuhk_dbd_test100.txt)')
    parser.add_argument(
        '--xu100',
        default=None,
        metavar='DIR',
        help='also check that the xu100 re-release in DIR (files 1.bmp ... 100.bmp, directly or in '
        'sub-folders) maps onto the test list; nothing is copied from it')
    parser.add_argument(
        '--xu-index',
        default=DEFAULT_XU_INDEX,
        help='"N.bmp out_of_focusNNNN.jpg" lines for --xu100 (default: the shipped index)')
    parser.add_argument(
        '--strict',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='counts other than 704 defocus / 100 test / 604 train are an error (default); '
        'with --no-strict a warning')
    cu.add_common_args(parser)
    return parser.parse_args(argv)


def find_release(src):
    """``(image_dir, gt_dir)`` of the release: ``SRC/image`` + ``SRC/gt``, or one level deeper."""
    direct = (osp.join(src, 'image'), osp.join(src, 'gt'))
    if all(osp.isdir(d) for d in direct):
        return direct
    found = cu.find_dirs(src, ['image', 'gt'], max_depth=2)
    pairs = [(d, g) for d in found['image'] for g in found['gt']
             if osp.dirname(d) == osp.dirname(g)]
    if len(pairs) == 1:
        return pairs[0]
    if len(pairs) > 1:
        raise cu.ConversionError(
            f'several image/ + gt/ folder pairs under {src!r}: '
            f'{cu.listing([osp.dirname(p[0]) for p in pairs])}; pass the one to convert')
    raise cu.ConversionError(
        f'no CUHK release found under {src!r}: expected the folders image/ and gt/ side by side '
        f'(searched {src}/{{image,gt}}, {src}/*/{{image,gt}}); found image/: '
        f'{found["image"] or "none"}, gt/: {found["gt"] or "none"}')


def read_test_stems(path, images, image_dir):
    """Stems of the test list; every name must be one of the defocus images."""
    names = cu.read_name_list(path, what='test list')
    stems = [cu.strip_image_ext(n) for n in names]
    missing = [n for n, s in zip(names, stems) if s not in images]
    if missing:
        raise cu.ConversionError(
            f'{len(missing)} test image(s) of {path!r} are not among the {DBD_PREFIX}* images of '
            f'{image_dir!r}: {cu.listing(missing)}')
    return stems


def check_counts(n_total, n_test, n_train, strict, warnings, test_list):
    """704 / 100 / 604 or a message naming the counts found (error when ``strict``)."""
    got = dict(total=n_total, test=n_test, train=n_train)
    if got == EXPECTED:
        return
    msg = (f'found {n_total} {DBD_PREFIX}* images ({n_test} test from {test_list!r}, {n_train} '
           f'train); the CUHK release has {EXPECTED["total"]} ({EXPECTED["test"]} test, '
           f'{EXPECTED["train"]} train)')
    if strict:
        raise cu.ConversionError(msg + '; pass --no-strict to convert anyway')
    warnings.add(msg)


def _grey_small(path, invert=False):
    import cv2
    import numpy as np
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    img = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    return 255.0 - img if invert else img


def _similarity(path_a, path_b):
    """``'same'``, ``'inverted'`` or ``'different'``: grey 64x64 mean absolute difference < 12."""
    a, b = _grey_small(path_a), _grey_small(path_b)
    if a is None or b is None:
        return 'unreadable'
    if float(abs(a - b).mean()) < 12:
        return 'same'
    if float(abs(a - (255.0 - b)).mean()) < 12:
        return 'inverted'
    return 'different'


def check_xu100(xu_dir, index_file, test_stems, images, masks, warnings):
    """Check that the xu100 re-release maps onto the test list (no copy). Returns a report dict.

    Every folder among ``DIR`` and its sub-folders that holds numbered files (``1.bmp``...) is
    checked: all 100 numbers present (error otherwise), sizes equal to the CUHK file the index
    names, and content (grey 64x64 mean absolute difference) the same, or inverted for masks.
    """
    if not osp.isdir(xu_dir):
        raise cu.ConversionError(f'--xu100 folder {xu_dir!r} does not exist')
    index = {}
    for line in cu.read_name_list(index_file, what='xu100 index'):
        parts = line.split()
        if len(parts) != 2:
            raise cu.ConversionError(
                f'xu100 index {index_file!r}: expected "N.bmp out_of_focusNNNN.jpg", got {line!r}')
        index[cu.strip_image_ext(parts[0])] = cu.strip_image_ext(parts[1])
    if sorted(index.values()) != sorted(test_stems):
        raise cu.ConversionError(
            f'xu100 index {index_file!r} names other images than the test list '
            f'({len(set(index.values()) ^ set(test_stems))} differ)')
    candidates = [xu_dir] + [
        osp.join(xu_dir, d) for d in sorted(os.listdir(xu_dir)) if osp.isdir(osp.join(xu_dir, d))
    ]
    result = {}
    for folder in candidates:
        files, _ = cu.scan_folder(folder, 'xu100')
        numbered = {s: p for s, p in files.items() if s.isdigit()}
        if not numbered:
            continue
        name = osp.basename(folder).lower()
        role = 'masks' if ('gt' in name or 'mask' in name) else 'images'
        missing = sorted((n for n in index if n not in numbered), key=int)
        if missing:
            raise cu.ConversionError(
                f'xu100 folder {folder!r} lacks {len(missing)} of the 100 numbered files: '
                f'{cu.listing(m + ".*" for m in missing)}')
        extra = sorted((n for n in numbered if n not in index), key=int)
        size_mismatch, content = [], Counter()
        cuhk = images if role == 'images' else masks
        for n, stem in index.items():
            if cu.read_size(numbered[n]) != cu.read_size(cuhk[stem]):
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
                         f'{cu.listing(extra)}')
        if size_mismatch:
            warnings.add(f'xu100 folder {folder!r}: {len(size_mismatch)} file(s) differ in size '
                         f'from the CUHK {role} the index names: {cu.listing(size_mismatch)}')
        if content['different'] * 2 > len(index):
            warnings.add(f'xu100 folder {folder!r}: {content["different"]} of {len(index)} files '
                         f'do not look like the CUHK {role} the index names')
        elif role == 'masks' and content['inverted'] * 2 > len(index):
            warnings.add(f'xu100 masks in {folder!r} are the CUHK masks inverted (white = '
                         'in-focus): a dataset reading them needs invert=False')
    if not result:
        raise cu.ConversionError(
            f'no numbered files (1.bmp ... 100.bmp) in --xu100 folder {xu_dir!r} or its '
            'sub-folders')
    return result


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    progress = not args.no_progress
    src = osp.abspath(args.src)
    out = cu.prepare_output(args.out, args.overwrite)
    warnings = cu.Warnings()
    image_dir, gt_dir = find_release(src)

    all_images, ignored = cu.scan_folder(image_dir, 'image')
    all_masks, _ = cu.scan_folder(gt_dir, 'mask (gt)')
    images = {s: p for s, p in all_images.items() if s.startswith(DBD_PREFIX)}
    n_motion = sum(s.startswith(MOTION_PREFIX) for s in all_images)
    others = sorted(
        osp.basename(p) for s, p in all_images.items()
        if not s.startswith((DBD_PREFIX, MOTION_PREFIX)))
    if others:
        warnings.add(f'{len(others)} image(s) in {image_dir!r} are neither {MOTION_PREFIX}* nor '
                     f'{DBD_PREFIX}* and were ignored: {cu.listing(others)}')
    if not images:
        raise cu.ConversionError(f'no {DBD_PREFIX}* images in {image_dir!r}')
    masks = {s: p for s, p in all_masks.items() if s.startswith(DBD_PREFIX)}

    test_stems = read_test_stems(args.test_list, images, image_dir)
    train_stems = sorted(s for s in images if s not in set(test_stems))
    check_counts(
        len(images), len(test_stems), len(train_stems), args.strict, warnings, args.test_list)
    test_pairs, _ = cu.build_pairs('test', images, masks, image_dir, gt_dir, stems=test_stems)
    train_pairs, orphans = cu.build_pairs(
        'train', images, masks, image_dir, gt_dir, stems=train_stems)
    if orphans:
        warnings.add(f'{len(orphans)} {DBD_PREFIX}* mask(s) in {gt_dir!r} have no image (not '
                     f'copied): {cu.listing(orphans)}')
    pairs = train_pairs + test_pairs

    img_suffix, img_found = cu.common_suffix([p.image for p in pairs], 'image', image_dir)
    mask_suffix, mask_found = cu.common_suffix([p.mask for p in pairs], 'mask', gt_dir)
    for kind, suffix, default in (('img_suffix', img_suffix, '.jpg'), ('seg_map_suffix',
                                                                       mask_suffix, '.png')):
        if suffix != default:
            warnings.add(f'files are {suffix}, not {default}: set {kind}={suffix!r} in '
                         'configs/_base_/datasets/cuhk_dbd.py')
    sizes = cu.check_sizes(pairs, progress=progress)

    polarity = None
    if args.polarity_samples > 0:
        polarity = cu.polarity_statistic(pairs, 'dbd', args.polarity_samples, progress)
        cu.judge_polarity(polarity, cu.WHITE_BLURRED, warnings, IF_WRONG)
    xu100 = None
    if args.xu100:
        xu100 = check_xu100(
            osp.abspath(args.xu100), args.xu_index, test_stems, images, masks, warnings)

    invert = not (polarity and polarity['majority'] == cu.WHITE_IN_FOCUS)
    report = {
        'dataset': DATASET,
        'converter': 'tools/dataset_converters/cuhk_dbd.py',
        'created': cu.now_iso(),
        'source': src,
        'output': out,
        'source_folders': {
            'images': image_dir,
            'masks': gt_dir
        },
        'test_list': osp.abspath(args.test_list),
        'counts': {
            'train': len(train_pairs),
            'test': len(test_pairs)
        },
        'expected_counts': dict(EXPECTED),
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
    if xu100 is not None:
        report['xu100'] = xu100
    cu.finish_conversion(pairs, out, report, img_suffix, mask_suffix, warnings, progress)
    cu.print_summary(report, out, warnings)
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return cu.convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
