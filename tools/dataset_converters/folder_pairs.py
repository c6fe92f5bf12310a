#!/usr/bin/env python
"""Copy an images folder and a masks folder (paired by file stem) into one split of dbdseg's layout.

The generic converter for the releases that are just "images + masks" folders: ECSSD, HKU-IS,
PASCAL-S, DUT-OMRON, SOD, MSRA-B (their configs read ``data/<name>/<split>/{images,masks}``), or
any DBD/SOD set of your own. Output::

    OUT/<split>/images/<stem><img_suffix>
    OUT/<split>/masks/<stem><mask_suffix>
    OUT/conversion_report.json      (one entry per split converted into OUT; other splits kept)

Files are copied byte for byte (an upper-case suffix is written lower-case). Every image needs a
mask and every mask an image (unless ``--stems`` picks the pairs). Only ``OUT/<split>`` must be
empty, so the splits of one dataset can be converted one after the other. Examples::

    python tools/dataset_converters/folder_pairs.py --images path/to/ECSSD/images \\
        --masks path/to/ECSSD/masks --out data/ecssd --split test
    python tools/dataset_converters/folder_pairs.py --images path/to/MSRA-B/images \\
        --masks path/to/MSRA-B/masks --stems train_stems.txt --out data/msra_b --split train
"""
import argparse
import json
import os
import os.path as osp
import re
import sys

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _converter_utils as cu  # noqa: E402


def _suffix(text):
    """``--img-suffix``/``--mask-suffix``: ``jpg`` or ``.jpg`` -> ``.jpg``."""
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError('empty suffix')
    return text if text.startswith('.') else '.' + text


def _split(text):
    if not re.fullmatch(r'[A-Za-z0-9_.-]+', text) or text in ('.', '..'):
        raise argparse.ArgumentTypeError(f'a split is a plain folder name, got {text!r}')
    return text


def parse_args(argv=None):
    """Command line of the generic converter."""
    parser = argparse.ArgumentParser(
        description='Copy an images folder and a masks folder (paired by stem) into '
        'OUT/<split>/{images,masks}.')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--masks', required=True, help='folder of masks (same stems)')
    parser.add_argument('--out', required=True, help='output dataset folder, e.g. data/ecssd')
    parser.add_argument(
        '--split', type=_split, default='test', help='split folder to write (default test)')
    parser.add_argument(
        '--img-suffix',
        type=_suffix,
        default=None,
        help='only images with this suffix (any case); default: detected, an error if mixed')
    parser.add_argument(
        '--mask-suffix',
        type=_suffix,
        default=None,
        help='only masks with this suffix (any case); default: detected, an error if mixed')
    parser.add_argument(
        '--task',
        choices=('dbd', 'sod'),
        default='sod',
        help='which polarity statistic to run: sod (white should be salient; default) or dbd '
        '(reports whether white reads as in-focus or blurred)')
    parser.add_argument(
        '--stems',
        default=None,
        help='file of the stems (or file names) to copy, one per line; default: every image')
    parser.add_argument(
        '--name', default=None, help='dataset name for the report (default: the --out folder name)')
    cu.add_common_args(parser)
    return parser.parse_args(argv)


def load_existing_report(path, overwrite):
    """The report already in OUT (to add this split to), ``{}`` when there is none."""
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
        raise cu.ConversionError(
            f'{path!r} exists but is not a conversion report this tool can add to ({exc}); '
            'move it away or pass --overwrite to replace it')


def run(argv=None):
    """Convert; see the module docstring. Returns 0."""
    args = parse_args(argv)
    progress = not args.no_progress
    out = osp.abspath(args.out)
    if osp.exists(out) and not osp.isdir(out):
        raise cu.ConversionError(f'output folder {out!r} exists and is not a folder')
    cu.prepare_output(osp.join(out, args.split), args.overwrite, what='output split folder')
    report_path = osp.join(out, cu.REPORT_NAME)
    report = load_existing_report(report_path, args.overwrite)
    warnings = cu.Warnings()
    img_dir, mask_dir = osp.abspath(args.images), osp.abspath(args.masks)

    images, ignored_img = cu.scan_folder(img_dir, 'image', suffix=args.img_suffix)
    masks, ignored_mask = cu.scan_folder(mask_dir, 'mask', suffix=args.mask_suffix)
    if not images:
        what = f'{args.img_suffix} ' if args.img_suffix else ''
        raise cu.ConversionError(f'no {what}image files in {img_dir!r}')
    stems = None
    if args.stems:
        stems = [cu.strip_image_ext(n) for n in cu.read_name_list(args.stems, what='--stems')]
    else:
        no_image = sorted(s for s in masks if s not in images)
        if no_image:
            names = [osp.basename(masks[s]) for s in no_image]
            raise cu.ConversionError(
                f'{len(no_image)} mask(s) in {mask_dir!r} have no image (same stem) in '
                f'{img_dir!r}: {cu.listing(names)}')
    pairs, _ = cu.build_pairs(args.split, images, masks, img_dir, mask_dir, stems=stems)
    img_suffix, img_found = cu.common_suffix([p.image for p in pairs], 'image', img_dir)
    mask_suffix, mask_found = cu.common_suffix([p.mask for p in pairs], 'mask', mask_dir)
    sizes = cu.check_sizes(pairs, progress=progress)

    polarity, invert = None, None
    if args.polarity_samples > 0:
        polarity = cu.polarity_statistic(pairs, args.task, args.polarity_samples, progress)
        if args.task == 'sod':
            cu.judge_polarity(
                polarity, cu.WHITE_SALIENT, warnings,
                'SOD releases store white = salient; if these masks really are inverted, set '
                'invert=True in the dataset config.')
            invert = polarity['majority'] == cu.WHITE_BACKGROUND
        elif polarity['majority'] in (cu.WHITE_IN_FOCUS, cu.WHITE_BLURRED):
            invert = polarity['majority'] == cu.WHITE_BLURRED
        else:
            warnings.add(f'mask polarity undecided ({polarity["votes"]}): look at a few masks '
                         'and set invert= in the dataset config yourself (invert=True when white '
                         '= blurred)')
    elif args.task == 'sod':
        invert = False

    renamed, stale = cu.write_pairs(pairs, out, img_suffix, mask_suffix, progress=progress)
    for folder, names in stale.items():
        warnings.add(f'{len(names)} file(s) in {folder!r} were there before and were not written '
                     f'by this conversion; the dataset will read them too: {cu.listing(names, 5)}')
    entry = {
        'created': cu.now_iso(),
        'converter': 'tools/dataset_converters/folder_pairs.py',
        'count': len(pairs),
        'images_from': img_dir,
        'masks_from': mask_dir,
        'stems_file': osp.abspath(args.stems) if args.stems else None,
        'task': args.task,
        'suffixes_found': {
            'images': img_found,
            'masks': mask_found
        },
        'image_size': sizes.get(args.split),
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
        entry['not_listed'] = {'images': len(images) - len(pairs), 'masks': len(masks) - len(pairs)}
    if renamed:
        entry['renamed'] = renamed
    if stale:
        entry['stale_files'] = {osp.relpath(k, out): v for k, v in stale.items()}
    report.setdefault('dataset', args.name or osp.basename(out.rstrip(os.sep)))
    report.setdefault('converter', 'tools/dataset_converters/folder_pairs.py')
    report['output'] = out
    report['updated'] = entry['created']
    report.setdefault('counts', {})[args.split] = len(pairs)
    report.setdefault('splits', {})[args.split] = entry
    report.setdefault('warnings', [])
    report['warnings'] = [w for w in report['warnings'] if not w.startswith(f'[{args.split}] ')]
    report['warnings'] += [f'[{args.split}] {w}' for w in warnings]
    cu.write_json_atomic(report_path, report)

    print(f'wrote {len(pairs)} image/mask pairs to {osp.join(out, args.split)} '
          f'(images {img_suffix}, masks {mask_suffix})')
    if renamed:
        print(f'  {len(renamed)} file(s) written with a lower-case suffix (bytes unchanged)')
    size = sizes.get('all')
    if size:
        print(f'  image size (H x W): {size["height"][0]}-{size["height"][1]} x '
              f'{size["width"][0]}-{size["width"][1]}')
    print('  ' + cu.format_polarity(polarity))
    invert_text = '?' if invert is None else repr(invert)
    print(f"  config: data_prefix=dict(img_path='{args.split}/images', "
          f"seg_map_path='{args.split}/masks'), img_suffix={img_suffix!r}, "
          f'seg_map_suffix={mask_suffix!r}, invert={invert_text}')
    print(f'  report: {report_path}')
    if warnings:
        print(f'  {len(warnings)} warning(s), listed above and in the report')
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return cu.convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
