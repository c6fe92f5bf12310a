"""Browse a binary-map dataset as its pipeline delivers it: image | mask | overlay per sample.

Like mmsegmentation 1.2.2's ``tools/analysis_tools/browse_dataset.py`` (Apache-2.0), for dbdseg's
binary maps. For each sample of the chosen split it writes one JPEG::

    <output-dir>/<set>/<stem>.jpg = [ image | mask | overlay ]   (each with a title strip)

(image as the pipeline delivers it; mask white = label 1, black = 0, grey = ignore, after the
dataset's polarity handling; overlay = label 1 tinted red). ``<set>`` is the sample's set name, else
the (member) dataset's name; wrappers (``MultiSetDataset``, ``ConcatDataset``, ``RepeatDataset``)
are iterated as a whole and ``--max-images`` counts over all their members. The drawing is
:mod:`dbdseg.visualization.browse`.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG [--split train|val|test]
        [--output-dir DIR] [--max-images N] [--not-show] [--show-interval S]
        [--cfg-options k=v ...]

``--output-dir`` defaults to ``work_dirs/browse_dataset/<config stem>``. Without ``--not-show``
each picture is also shown in a window for ``--show-interval`` seconds (needs a display).
"""
import argparse
import os.path as osp
import sys

import cv2
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from dbdseg.utils import register_all_modules
from dbdseg.visualization.browse import write_dataset_pictures

PROG = 'tools/analysis_tools/browse_dataset.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description='Browse a binary-map dataset: image | mask | overlay per sample')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split',
        choices=['train', 'val', 'test'],
        default='train',
        help='which dataloader\'s dataset to browse (default: train)')
    parser.add_argument(
        '--output-dir',
        default=None,
        type=str,
        help='where to write the pictures (default: work_dirs/browse_dataset/<config stem>)')
    parser.add_argument(
        '--max-images', type=int, default=None, help='stop after this many samples (default: all)')
    parser.add_argument(
        '--not-show',
        default=False,
        action='store_true',
        help='do not show the pictures in a window (only write them)')
    parser.add_argument(
        '--show-interval', type=float, default=2, help='seconds each picture is shown (default: 2)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    args = parser.parse_args(argv)
    if args.max_images is not None and args.max_images < 1:
        parser.error(f'--max-images must be >= 1, got {args.max_images}')
    if args.show_interval < 0:
        parser.error(f'--show-interval must be >= 0, got {args.show_interval}')
    return args


def _fail(msg: str):
    """Stop with ``PROG: error: msg`` (exit status 1)."""
    raise SystemExit(f'{PROG}: error: {msg}')


def build_dataset(cfg: Config, split: str, config_path: str = '<config>'):
    """Build ``cfg.<split>_dataloader.dataset`` (with its pipeline) in the config's scope.

    Raises:
        SystemExit: the config has no such dataloader / dataset (the message names both).
    """
    from mmseg.registry import DATASETS
    loader = cfg.get(f'{split}_dataloader', None)
    if not loader or not loader.get('dataset', None):
        _fail(f'{config_path} has no {split}_dataloader.dataset to browse')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return DATASETS.build(loader['dataset'])


def _show(picture, name: str, interval: float) -> None:
    try:
        cv2.imshow('browse_dataset', picture)
        cv2.setWindowTitle('browse_dataset', name)
        cv2.waitKey(max(1, int(interval * 1000)))
    except cv2.error as e:
        _fail(f'cannot show pictures here ({str(e).strip().splitlines()[-1]}); '
              'use --not-show to only write them')


def main(argv=None):
    """Write (and show) the pictures; ``argv`` defaults to ``sys.argv[1:]``.

    Returns:
        list[str]: The files written, in dataset order.
    """
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    out_dir = args.output_dir or osp.join('work_dirs', 'browse_dataset',
                                          osp.splitext(osp.basename(args.config))[0])

    dataset = build_dataset(cfg, args.split, args.config)
    show = None if args.not_show else (lambda pic, name: _show(pic, name, args.show_interval))
    written = write_dataset_pictures(
        dataset, out_dir, max_images=args.max_images, split=args.split, on_picture=show)
    if not args.not_show:
        cv2.destroyAllWindows()
    folders = sorted({osp.dirname(f) for f in written})
    print(
        f'wrote {len(written)} of {len(dataset)} {args.split} samples '
        f'(image | mask | overlay) to {out_dir}: ' + ', '.join(folders),
        flush=True)
    return written


if __name__ == '__main__':
    main(sys.argv[1:])
