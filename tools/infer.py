"""Predict defocus-blur (in-focus) / saliency maps for your own photos.

For every input image (files, or folders of ``.jpg .jpeg .png .bmp .tif .tiff .webp`` files, sorted
by name; any size; EXIF orientation applied) writes into ``--out-dir``:

* ``<stem>.png``: 8-bit probability map, ``round(prob * 255)`` (255 = in-focus / salient), at the
  orientation-corrected original size;
* ``<stem>_overlay.jpg``: the image with the probability as a colour heat map (JET: red = in-focus /
  salient) and the outline of ``prob > --threshold``.

Outputs are written atomically (temporary file + ``os.replace``). Two inputs with the same stem, an
unreadable image, or an output folder that cannot be written are errors naming the files.

Usage::

    python tools/infer.py CONFIG CHECKPOINT|none INPUT [INPUT ...] --out-dir DIR
        [--device cpu|cuda] [--threshold 0.5] [--overlay-alpha 0.5] [--cfg-options k=v ...]
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
from mmengine.config import DictAction

if importlib.util.find_spec('dbdseg') is None:  # not installed: use this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dbdseg  # noqa: E402,F401  (registers dbdseg modules into mmseg's registries)
from dbdseg.apis import IMG_EXTENSIONS, inference_model, init_model, list_images, read_image  # noqa
from dbdseg.utils.visualization import heat_overlay, imwrite_atomic, prob_to_uint8  # noqa: E402

PROG = 'tools/infer.py'


def _unit_interval(name):
    def parse(text):
        value = float(text)
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f'{name} must be in [0, 1], got {text}')
        return value
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description='Predict in-focus / salient probability maps for images')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" to load no weights')
    parser.add_argument('inputs', nargs='+', metavar='INPUT',
                        help=f'image files or folders (folders: {" ".join(IMG_EXTENSIONS)})')
    parser.add_argument('--out-dir', required=True, help='output folder (created if missing)')
    parser.add_argument('--device', default='cpu',
                        help='cpu, cuda or cuda:N (default: cpu)')
    parser.add_argument('--threshold', type=_unit_interval('--threshold'), default=0.5,
                        help='probability threshold outlined in the overlay (default: 0.5)')
    parser.add_argument('--overlay-alpha', type=_unit_interval('--overlay-alpha'), default=0.5,
                        help='weight of the heat map in the overlay (default: 0.5)')
    parser.add_argument('--jpeg-quality', type=int, default=90,
                        help='JPEG quality of the overlays (default: 90)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config (key=value pairs)')
    return parser.parse_args(argv)


def _fail(msg: str):
    raise SystemExit(f'{PROG}: error: {msg}')


def collect_images(inputs, out_dir):
    """Images to process, with a check for stem collisions and for outputs overwriting inputs.

    Returns:
        list[tuple[str, str]]: (image path, stem) pairs.
    """
    try:
        images = list_images(inputs)
    except FileNotFoundError as e:
        _fail(str(e))
    if not images:
        _fail(f'no images found in {" ".join(inputs)} (suffixes: {" ".join(IMG_EXTENSIONS)})')
    by_stem = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in by_stem:
            _fail(f'two inputs have the same name "{stem}" and would write the same outputs: '
                  f'{by_stem[stem]} and {path}')
        by_stem[stem] = path
    inputs_real = {osp.realpath(p) for p in images}
    for stem, path in by_stem.items():
        for out in output_paths(out_dir, stem):
            if osp.realpath(out) in inputs_real:
                _fail(f'output {out} would overwrite the input image {path}; '
                      'choose another --out-dir')
    return [(p, s) for s, p in by_stem.items()]


def output_paths(out_dir, stem):
    """(probability map, overlay) paths for an image stem."""
    return osp.join(out_dir, f'{stem}.png'), osp.join(out_dir, f'{stem}_overlay.jpg')


def prepare_out_dir(out_dir):
    """Create ``out_dir`` and check that files can be written there."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix='.write_test_'):
            pass
    except OSError as e:
        _fail(f'cannot write to the output folder {out_dir}: {e}')


def _progress(items):
    try:
        from tqdm import tqdm
        return tqdm(items, desc='infer', unit='img', file=sys.stderr)
    except ImportError:  # pragma: no cover
        return items


def main(argv=None):
    """Run inference; ``argv`` defaults to ``sys.argv[1:]``. Returns the written file paths."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is not None and '://' not in checkpoint and not osp.isfile(checkpoint):
        _fail(f'checkpoint file not found: {checkpoint}')
    jobs = collect_images(args.inputs, args.out_dir)
    prepare_out_dir(args.out_dir)

    try:
        model = init_model(args.config, checkpoint, device=args.device,
                           cfg_options=args.cfg_options)
    except (FileNotFoundError, RuntimeError) as e:
        _fail(str(e))

    written = []
    t0 = time.perf_counter()
    for path, stem in _progress(jobs):
        try:
            img = read_image(path)
        except (FileNotFoundError, ValueError) as e:
            _fail(str(e))
        result = inference_model(model, img, threshold=args.threshold)
        result.set_metainfo(dict(img_path=path))
        prob = result.seg_logits.data
        prob_path, overlay_path = output_paths(args.out_dir, stem)
        try:
            imwrite_atomic(prob_path, prob_to_uint8(prob))
            overlay = heat_overlay(img, prob, alpha=args.overlay_alpha, threshold=args.threshold)
            imwrite_atomic(overlay_path, overlay,
                           params=[cv2.IMWRITE_JPEG_QUALITY, int(args.jpeg_quality)])
        except OSError as e:
            _fail(str(e))
        written += [prob_path, overlay_path]
    elapsed = time.perf_counter() - t0
    print(f'{len(jobs)} image(s) -> {args.out_dir} ({len(written)} files: <stem>.png probability x '
          f'255, <stem>_overlay.jpg); {elapsed / max(len(jobs), 1):.3f} s/image on {args.device}',
          flush=True)
    return written


if __name__ == '__main__':
    main(sys.argv[1:])
