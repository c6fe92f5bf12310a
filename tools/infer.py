"""Predict defocus-blur (in-focus) / saliency maps for your own photos.

For every input image (files, or folders of image files (``dbdseg.utils.fileio.IMG_EXTENSIONS``),
sorted by name; any size; EXIF orientation applied) writes into ``--out-dir``:

* ``<stem>.png``: 8-bit probability map, ``round(prob * 255)`` (255 = in-focus / salient), at the
  orientation-corrected original size;
* ``<stem>_overlay.jpg``: the image with the probability as a colour heat map (JET: red = in-focus /
  salient) and the outline of ``prob > --threshold``.

Outputs are written atomically (temporary file + ``os.replace``): an interrupted run never leaves a
partial file, nor replaces a finished output of an earlier run with one. Two inputs with the same
stem, an unreadable image, or an output folder that cannot be written are errors naming the files.
Folders contribute files with the suffixes above only (other files are ignored), except hidden
files such as macOS ``._*`` metadata files ("AppleDouble", not images), which are skipped
(:func:`dbdseg.apis.inference_jobs.collect_images`).

``--skip-bad``: an image that cannot be read (empty, truncated, corrupt, not an image) or predicted
is skipped instead of stopping the run; the skipped files and the reason for each are listed at the
end (stderr), and the exit status stays 0. Problems that are not about one image (the output folder,
the model) still stop the run.

``--crf``: refine each probability map with a fully connected CRF
(:func:`dbdseg.utils.crf.dense_crf` on the RGB image, A2S reference settings) before it is saved.

``--unsafe-load-trusted-checkpoint``: allow CHECKPOINT to be loaded with ``weights_only=False``
(arbitrary unpickling, runs code from the file): only for a file whose source you trust, that
holds Python objects other than tensors and plain data (:mod:`dbdseg.utils.checkpoint`).

Usage::

    python tools/infer.py CONFIG CHECKPOINT|none INPUT [INPUT ...] --out-dir DIR
        [--device cpu|cuda] [--threshold 0.5] [--overlay-alpha 0.5] [--crf] [--skip-bad]
        [--unsafe-load-trusted-checkpoint] [--cfg-options k=v ...]
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
from mmengine.config import DictAction

from dbdseg.apis import inference_model, init_model, read_image
from dbdseg.apis.inference_jobs import collect_images, infer_output_paths
from dbdseg.utils import register_all_modules
from dbdseg.utils.checkpoint import (UnsafeCheckpointError, install_checkpoint_guard,
                                     trust_checkpoint)
from dbdseg.utils.fileio import IMG_EXTENSIONS, imwrite_atomic, prob_to_uint8
from dbdseg.utils.visualization import heat_overlay, to_numpy_prob

# The repository root, for the `projects.*` packages that configs import through custom_imports
# (as tools/test.py).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

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
    parser.add_argument(
        'inputs',
        nargs='+',
        metavar='INPUT',
        help=f'image files or folders (folders: {" ".join(IMG_EXTENSIONS)})')
    parser.add_argument('--out-dir', required=True, help='output folder (created if missing)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default: cpu)')
    parser.add_argument(
        '--threshold',
        type=_unit_interval('--threshold'),
        default=0.5,
        help='probability threshold outlined in the overlay (default: 0.5)')
    parser.add_argument(
        '--overlay-alpha',
        type=_unit_interval('--overlay-alpha'),
        default=0.5,
        help='weight of the heat map in the overlay (default: 0.5)')
    parser.add_argument(
        '--jpeg-quality', type=int, default=90, help='JPEG quality of the overlays (default: 90)')
    parser.add_argument(
        '--crf',
        action='store_true',
        help='refine each probability map with a dense CRF (dbdseg.utils.crf)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip images that cannot be read or predicted (listed at the end) '
        'instead of stopping')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False (arbitrary unpickling); '
        'only for a file whose source you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config (key=value pairs)')
    return parser.parse_args(argv)


def _fail(msg: str):
    raise SystemExit(f'{PROG}: error: {msg}')


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


def load_crf():
    """``dbdseg.utils.crf.dense_crf``, imported only when ``--crf`` is given."""
    try:
        from dbdseg.utils.crf import dense_crf
    except ImportError as e:
        _fail(f'--crf needs dbdseg.utils.crf and pydensecrf (pip install pydensecrf2): {e}')
    return dense_crf


def predict_one(model, path, args, crf=None):
    """Read one image and predict it. Returns ``(img_bgr, prob)``: the image as read and the
    (H, W) float32 probability map in [0, 1] (CRF-refined with ``crf``).

    Raises:
        FileNotFoundError, ValueError: the image cannot be read (names the file).
        RuntimeError, ValueError: the model cannot predict it (the message is prefixed with the
            file name).
    """
    img = read_image(path)
    try:
        result = inference_model(model, img, threshold=args.threshold)
        prob = to_numpy_prob(result.seg_logits.data)
        if crf is not None:
            prob = crf(np.ascontiguousarray(img[:, :, ::-1]), prob)
    except (RuntimeError, ValueError) as e:
        raise (ValueError if isinstance(e, ValueError) else RuntimeError)(f'{path}: {e}') from e
    return img, prob


def main(argv=None):
    """Run inference; ``argv`` defaults to ``sys.argv[1:]``. Returns the written file paths
    (``main.skipped`` holds the ``(path, reason)`` pairs skipped by ``--skip-bad``)."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    register_all_modules()
    install_checkpoint_guard()
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is not None and '://' not in checkpoint and not osp.isfile(checkpoint):
        _fail(f'checkpoint file not found: {checkpoint}')
    if args.unsafe_load_trusted_checkpoint:
        if checkpoint is None or '://' in checkpoint:
            _fail('--unsafe-load-trusted-checkpoint needs a local CHECKPOINT file')
        trust_checkpoint(checkpoint)
    try:
        jobs = collect_images(args.inputs, args.out_dir)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    prepare_out_dir(args.out_dir)
    crf = load_crf() if args.crf else None

    try:
        model = init_model(
            args.config, checkpoint, device=args.device, cfg_options=args.cfg_options)
    except (FileNotFoundError, RuntimeError, UnsafeCheckpointError) as e:
        _fail(str(e))

    written, skipped = [], []
    main.skipped = skipped
    t0 = time.perf_counter()
    for path, stem in _progress(jobs):
        try:
            img, prob = predict_one(model, path, args, crf)
        except (FileNotFoundError, ValueError, RuntimeError) as e:
            if not args.skip_bad:
                _fail(f'{e} (use --skip-bad to skip such files)')
            skipped.append((path, str(e)))
            continue
        prob_path, overlay_path = infer_output_paths(args.out_dir, stem)
        try:
            imwrite_atomic(prob_path, prob_to_uint8(to_numpy_prob(prob)))
            overlay = heat_overlay(img, prob, alpha=args.overlay_alpha, threshold=args.threshold)
            imwrite_atomic(
                overlay_path, overlay, params=[cv2.IMWRITE_JPEG_QUALITY,
                                               int(args.jpeg_quality)])
        except OSError as e:
            _fail(str(e))
        written += [prob_path, overlay_path]
    elapsed = time.perf_counter() - t0
    done = len(jobs) - len(skipped)
    print(
        f'{done} image(s) -> {args.out_dir} ({len(written)} files: <stem>.png probability x '
        f'255, <stem>_overlay.jpg{", CRF-refined" if crf else ""}); '
        f'{elapsed / max(done, 1):.3f} s/image on {args.device}',
        flush=True)
    if skipped:
        lines = [f'{PROG}: skipped {len(skipped)} of {len(jobs)} input(s) (--skip-bad):']
        lines += [f'  {path}: {reason}' for path, reason in skipped]
        print('\n'.join(lines), file=sys.stderr, flush=True)
    return written


if __name__ == '__main__':
    main(sys.argv[1:])
