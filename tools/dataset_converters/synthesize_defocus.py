#!/usr/bin/env python
"""Render a synthetic defocus-blur-detection dataset from sharp photos (thin-lens model).

Examples::

    # the real photos bundled with scikit-image / scikit-learn / matplotlib (offline), 1 val scene
    python tools/dataset_converters/synthesize_defocus.py --out data/synthetic_dbd \\
        --per-scene 125 --size 192 192
    # your own photos, with optional object masks paired by file stem
    python tools/dataset_converters/synthesize_defocus.py --src photos/ --src-masks masks/ \\
        --out data/my_dbd --val-scenes 0.1

Output (see ``dbdseg/datasets/synthesis/render_set.py``): ``images/<stem>.jpg``,
``masks/<stem>.png`` (255 = in-focus, 0 = blurred), ``depth/<stem>.png`` (16-bit, per-image
normalised, larger = farther), ``train.txt``, ``val.txt``, ``render_params.json``. Same seed ->
byte-identical files, whatever ``--workers``.
"""
import argparse
import sys

from dbdseg.datasets.synthesis import DefocusRenderConfig, synthesize_dataset


def _val_scenes(text):
    """``--val-scenes``: an int count, a fraction in (0, 1), or comma-separated scene names."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return [s.strip() for s in text.split(',') if s.strip()]
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f'a fraction must be in (0, 1), got {text}')
    return value


def parse_args(argv=None):
    """Command line of the synthetic defocus generator."""
    parser = argparse.ArgumentParser(
        description='Render thin-lens defocus onto sharp photos: a defocus blur detection dataset '
        '(masks: 255 = in-focus).')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--src',
        default=None,
        help='folder of sharp photos (jpg/png/bmp/tif/webp...); one scene per file stem. '
        'Default: the photos bundled with scikit-image, scikit-learn and matplotlib')
    parser.add_argument(
        '--src-masks',
        default=None,
        help='folder of object masks <stem>.png for --src (used as layer shapes)')
    parser.add_argument(
        '--per-scene', type=int, default=100, help='renders per scene (default 100)')
    parser.add_argument(
        '--val-per-scene',
        type=int,
        default=None,
        help='renders per validation scene (default: --per-scene)')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=[320, 320],
        metavar=('H', 'W'),
        help='output size (default 320 320)')
    parser.add_argument('--seed', type=int, default=0, help='global seed (default 0)')
    parser.add_argument(
        '--val-scenes',
        type=_val_scenes,
        default=1,
        help='validation scenes: a count, a fraction in (0, 1) or comma-separated '
        'names (default 1); train and val never share a scene')
    parser.add_argument('--workers', type=int, default=2, help='rendering processes (default 2)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='allow a non-empty --out (its dataset files are replaced)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip unreadable source photos/masks and list them at the end')
    parser.add_argument(
        '--max-coc',
        type=float,
        nargs=2,
        default=None,
        metavar=('LOW', 'HIGH'),
        help='largest blur radius range in pixels at 192x192, scaled with the size '
        '(default 6 10)')
    parser.add_argument(
        '--source-scale',
        type=float,
        nargs=2,
        default=None,
        metavar=('LOW', 'HIGH'),
        help='source downscale range before cropping (default 0.5 0.65)')
    parser.add_argument('--no-noise', action='store_true', help='no sensor noise')
    parser.add_argument(
        '--no-jpeg',
        action='store_true',
        help='no JPEG re-encoding in the render (images are then stored at quality 100)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    """Render; returns 0, or 2 on an error (message on stderr)."""
    args = parse_args(argv)
    changes = dict(out_size=tuple(args.size))
    if args.max_coc is not None:
        changes['max_coc_range'] = tuple(args.max_coc)
    if args.source_scale is not None:
        changes['source_scale_range'] = tuple(args.source_scale)
    if args.no_noise:
        changes['add_noise'] = False
    if args.no_jpeg:
        changes['jpeg'] = False
    try:
        cfg = DefocusRenderConfig(**changes)
        summary = synthesize_dataset(
            args.src,
            args.out,
            num_per_scene=args.per_scene,
            size=tuple(args.size),
            seed=args.seed,
            val_scenes=args.val_scenes,
            workers=args.workers,
            overwrite=args.overwrite,
            cfg=cfg,
            val_per_scene=args.val_per_scene,
            src_masks=args.src_masks,
            skip_bad=args.skip_bad,
            progress=not args.no_progress)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    total = sum(summary['counts'].values())
    (h, w), secs = summary['size'], summary['seconds']
    print(f"wrote {total} renders of {h}x{w} to {summary['out_dir']} in {secs:.1f} s "
          f'({total / max(secs, 1e-9):.1f} img/s)')
    for split in ('train', 'val'):
        frac = summary['in_focus_mean'][split]
        frac_text = 'n/a' if frac is None else f'{frac:.3f}'
        print(f"  {split}: {summary['counts'][split]} images from {len(summary['scenes'][split])} "
              f"scene(s) {summary['scenes'][split]}; mean in-focus fraction {frac_text}")
    if summary['bad']:
        print(f"skipped {len(summary['bad'])} unreadable source file(s):")
        for msg in summary['bad']:
            print(f'  {msg}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
