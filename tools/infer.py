"""Predict defocus-blur (in-focus) / saliency maps for your own photos.

For every input image (files, or folders of image files (``dbdseg.utils.fileio.IMG_EXTENSIONS``),
sorted by name; any size; EXIF orientation applied) writes into ``--out-dir``:

* ``<stem>.png``: 8-bit probability map, ``round(prob * 255)`` (255 = in-focus / salient), at the
  orientation-corrected original size;
* ``<stem>_overlay.jpg``: the image with the probability as a colour heat map (JET: red = in-focus /
  salient) and the outline of ``prob > --threshold``.

Outputs are staged and moved into place atomically (``InferenceOutputFolder``); an interrupted
run (exception, Ctrl-C, SIGTERM, SIGHUP) leaves no partial or temporary file, and what a SIGKILLed
run left is removed by the next run once that process is dead. Same-stem inputs, an output that
would replace an input, an unreadable image or an unwritable output folder are errors naming the
files. Hidden files (``.x.jpg``, macOS ``._*``) are never inputs, also when named (a note says
so), nor are the unchanged outputs of an earlier run in ``--out-dir``, which may be the input
folder (:mod:`dbdseg.apis.inference_jobs`).

``--max-pixels N``: an image of more than N pixels (default 64 megapixels; 0: no limit) is
refused before decoding, from its header (a 31 KB PNG can decode to gigabytes).

``--skip-bad``: an image that cannot be read (empty, truncated, corrupt, not an image, over
``--max-pixels``), predicted or encoded (an overlay JPEG over 65,535 pixels wide) is skipped
instead of stopping the run; the skipped files and the reasons are listed at the end (stderr),
and the exit status stays 0. Problems that are not about one image still stop the run.

``--crf``: refine each probability map with a fully connected CRF
(:func:`dbdseg.utils.crf.dense_crf` on the RGB image, A2S reference settings) before it is saved.

``--unsafe-load-trusted-checkpoint``: allow CHECKPOINT to be loaded with ``weights_only=False``
(arbitrary unpickling, runs code from the file): only for a file whose source you trust, that
holds Python objects other than tensors and plain data (:mod:`dbdseg.utils.checkpoint`).

Usage::

    python tools/infer.py CONFIG CHECKPOINT|none INPUT [INPUT ...] --out-dir DIR
        [--device cpu|cuda] [--threshold 0.5] [--overlay-alpha 0.5] [--crf] [--skip-bad]
        [--max-pixels 64000000]
        [--unsafe-load-trusted-checkpoint] [--cfg-options k=v ...]
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import DictAction

from dbdseg.apis import inference_model, init_model, read_image
from dbdseg.apis.inference import DEFAULT_MAX_PIXELS, ImageTooLargeError
from dbdseg.apis.inference_jobs import (InferenceOutputFolder, collect_images, encode_outputs,
                                        infer_output_paths)
from dbdseg.apis.output_guard import exit_on_signals
from dbdseg.utils import register_all_modules
from dbdseg.utils.checkpoint import (UnsafeCheckpointError, install_checkpoint_guard,
                                     trust_checkpoint)
from dbdseg.utils.fileio import IMG_EXTENSIONS
from dbdseg.utils.visualization import to_numpy_prob

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
        '--max-pixels',
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f'most pixels of an input image; 0: no limit (default: {DEFAULT_MAX_PIXELS})')
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
    """The opened ``InferenceOutputFolder`` of ``out_dir``, for a ``with`` block."""
    try:
        return InferenceOutputFolder(out_dir).open()
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
    img = read_image(path, max_pixels=args.max_pixels)
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
    if args.max_pixels < 0:
        _fail(f'--max-pixels must be >= 0 (0: no limit), got {args.max_pixels}')
    register_all_modules()
    install_checkpoint_guard()
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is not None and '://' not in checkpoint and not osp.isfile(checkpoint):
        _fail(f'checkpoint file not found: {checkpoint}')
    if args.unsafe_load_trusted_checkpoint:
        if checkpoint is None or '://' in checkpoint:
            _fail('--unsafe-load-trusted-checkpoint needs a local CHECKPOINT file')
        trust_checkpoint(checkpoint)
    notes = []
    try:
        jobs = collect_images(args.inputs, args.out_dir, skipped=notes)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    for path, reason in notes:
        print(f'{PROG}: not an input: {path}: {reason}', file=sys.stderr, flush=True)
    out = prepare_out_dir(args.out_dir)
    with exit_on_signals(prog=PROG), out:
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
            paths = infer_output_paths(args.out_dir, stem)
            try:
                img, prob = predict_one(model, path, args, crf)
                data = encode_outputs(img, prob, paths, args.threshold, args.overlay_alpha,
                                      args.jpeg_quality)
            except (FileNotFoundError, ValueError, RuntimeError) as e:
                reason = str(e) if path in str(e) else f'{path}: {e}'
                if not args.skip_bad:
                    more = ', or --max-pixels' if isinstance(e, ImageTooLargeError) else ''
                    _fail(f'{reason} (use --skip-bad to skip such files{more})')
                skipped.append((path, reason))
                continue
            try:
                for file, content in zip(paths, data):
                    out.write(file, content)
            except OSError as e:
                _fail(str(e))
            written += list(paths)
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
