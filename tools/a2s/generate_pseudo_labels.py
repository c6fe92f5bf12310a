"""A2S step 2: pseudo labels ``G = MF(CRF(sigmoid(sign * Theta)))`` (Zhou et al. 2023, Eq. 6).

For every input image (files, or folders of ``.jpg .jpeg .png .bmp .tif .tiff .webp`` files, sorted
by name; EXIF orientation applied) writes ``OUT/<stem>.png``: an 8-bit label, 255 = salient, 0 =
background, at the image's own size. Steps per image:

1. a soft foreground map in [0, 1] from the chosen cue (``--cue``):

   * ``model`` (default): the A2S stage-1 network (``ActivationHead``) of CONFIG with weights CKPT,
     run at the image's OWN resolution (the config's resize is dropped, as the reference code does
     for its CRF pass, MODELS.md B.5.5): ``sigmoid(sign * Theta)``; ``--max-size N`` caps the
     longer side the network sees (for very large photos; the map is resized back);
   * ``centre``: a centre-prior Gaussian ``exp(-(x^2 + y^2) / (2 s^2))`` in coordinates normalised
     by the image width and height (x, y in [-0.5, 0.5]); ``s = --centre-sigma`` (0.25: a blob of
     about 27 % of the image above 0.5). A classical cue, not from the paper;
   * ``ft``: frequency-tuned saliency (Achanta et al., CVPR 2009;
     :func:`dbdseg.utils.saliency.frequency_tuned_saliency`), min-max stretched. Not from the paper.

   With ``centre`` and ``ft`` no network runs, and CONFIG and CKPT may be ``none``. These cues give
   pseudo labels when an untrained (random) stage 1 is uninformative.
2. the CRF unary (``--unary``): ``soft`` (default; the paper's Eq. 6 feeds the soft map) or
   ``hard`` (the reference code: the map min-max stretched, thresholded at 0.5, then foreground
   probability ``--gt-prob`` 0.7 / background 0.3, equal to pydensecrf's
   ``unary_from_labels(gt_prob=0.7)``);
3. dense CRF (:func:`dbdseg.utils.crf.dense_crf`: 2 labels, ``--crf-iterations`` 10 mean-field
   steps, Gaussian sxy 3 compat 3, bilateral sxy 50 srgb 5 compat 10; MODELS.md B.5.5), argmax,
   and a median filter of size ``--median-size`` 7. ``--no-crf`` skips the CRF (threshold the
   unary at 0.5, then the median filter).

The CRF runs in ``--workers`` processes (default 2; 0 = in this process) while this process reads
images and runs the cue. ``--save-soft DIR`` also writes the soft map of step 1 as
``DIR/<stem>.png`` (``round(p * 255)``).

Restartable: an image whose outputs exist is skipped (its files are never rewritten), so a killed
run continues where it stopped. Every file is written to a temporary file in the same folder and
moved into place with ``os.replace``, so ``<stem>.png`` never holds a partial file; a leftover
temporary file (``.tmp_*``) is never taken for an output. Delete OUT to regenerate.

Unreadable images: an error naming the file (the outputs finished so far are kept), or with
``--skip-bad`` a warning, and the list of skipped files at the end.

Usage::

    python tools/a2s/generate_pseudo_labels.py CONFIG CKPT IMAGES [IMAGES ...] --out DIR
        [--cue model|centre|ft] [--workers 2] [--skip-bad] [--no-crf] [--save-soft DIR]
        [--unary soft|hard] [--gt-prob 0.7] [--crf-iterations 10] [--median-size 7]
        [--centre-sigma 0.25] [--device cpu] [--max-size 0] [--cfg-options k=v ...]
        [--no-progress]

Example (MSRA-B train + val, the A2S training set)::

    python tools/a2s/generate_pseudo_labels.py \\
        configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py \\
        work_dirs/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320/epoch_20.pth \\
        data/msra_b/train/images data/msra_b/val/images --out data/msra_b/a2s_pseudo
"""
import argparse
import collections
import importlib.util
import multiprocessing
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np
from mmengine.config import DictAction

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('dbdseg') is None:  # not installed: use this checkout
    sys.path.insert(0, _REPO)
import dbdseg  # noqa: E402,F401  (registers dbdseg modules into mmseg's registries)
from dbdseg.apis import IMG_EXTENSIONS, list_images, read_image  # noqa: E402
from dbdseg.utils.crf import crf_pseudo_label, median_binary  # noqa: E402
from dbdseg.utils.visualization import imwrite_atomic, prob_to_uint8  # noqa: E402

PROG = 'tools/a2s/generate_pseudo_labels.py'
CUES = ('model', 'centre', 'ft')


def _fail(msg: str):
    raise SystemExit(f'{PROG}: error: {msg}')


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {text}')
    return value


def _odd_size(text):
    value = int(text)
    if value < 1 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f'must be a positive odd integer, got {text}')
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {text}')
    return value


def _open_unit(text):
    value = float(text)
    if not 0.5 < value < 1.0:
        raise argparse.ArgumentTypeError(f'must be in (0.5, 1), got {text}')
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'must be > 0, got {text}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='A2S pseudo labels: stage-1 activation (or a classical cue) -> dense CRF -> '
        'median filter -> OUT/<stem>.png (0/255)')
    parser.add_argument('config', help='stage-1 config, or "none" with --cue centre/ft')
    parser.add_argument(
        'checkpoint',
        help='stage-1 checkpoint, or "none" (random weights with '
        '--cue model; CONFIG and CKPT are not used by --cue centre/ft)')
    parser.add_argument(
        'images',
        nargs='+',
        metavar='IMAGES',
        help=f'image files or folders (folders: {" ".join(IMG_EXTENSIONS)})')
    parser.add_argument('--out', required=True, help='output folder of <stem>.png labels')
    parser.add_argument(
        '--cue',
        choices=CUES,
        default='model',
        help='soft map source: model (stage-1 network, default), centre '
        '(centre-prior Gaussian) or ft (frequency-tuned saliency)')
    parser.add_argument(
        '--workers',
        type=_non_negative_int,
        default=2,
        help='CRF worker processes (default 2; 0 = run the CRF in this process)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip unreadable images (listed at the end) instead of stopping')
    parser.add_argument(
        '--no-crf',
        action='store_true',
        help='no CRF: threshold the unary at 0.5, then the median filter')
    parser.add_argument(
        '--save-soft',
        default=None,
        metavar='DIR',
        help='also write the soft map before the CRF as DIR/<stem>.png (p * 255)')
    parser.add_argument(
        '--unary',
        choices=('soft', 'hard'),
        default='soft',
        help='CRF unary: soft (the map itself, paper Eq. 6; default) or hard '
        '(min-max, > 0.5, then --gt-prob; the reference code)')
    parser.add_argument(
        '--gt-prob',
        type=_open_unit,
        default=0.7,
        help='foreground probability of a --unary hard foreground pixel '
        '(default 0.7)')
    parser.add_argument(
        '--crf-iterations',
        type=_positive_int,
        default=10,
        help='mean-field iterations (default 10)')
    parser.add_argument(
        '--median-size',
        type=_odd_size,
        default=7,
        help='median filter size, odd; 1 = none (default 7)')
    parser.add_argument(
        '--centre-sigma',
        type=_positive_float,
        default=0.25,
        help='--cue centre: Gaussian std as a fraction of width/height '
        '(default 0.25)')
    parser.add_argument('--device', default='cpu', help='--cue model: cpu, cuda or cuda:N')
    parser.add_argument(
        '--max-size',
        type=_non_negative_int,
        default=0,
        help='--cue model: run the network on a copy whose longer side is at '
        'most this many pixels (the map is resized back; the CRF always runs '
        'at full size); 0 = the image\'s own resolution (default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of CONFIG (key=value pairs)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------- soft maps
def centre_prior(height: int, width: int, sigma: float = 0.25) -> np.ndarray:
    """Centre-prior Gaussian map.

    ``exp(-(x^2 + y^2) / (2 sigma^2))`` with pixel-centre coordinates normalised by the image size
    (x = (col + 0.5) / width - 0.5, y likewise, both in [-0.5, 0.5]), so the blob stretches with
    the aspect ratio. A classical saliency prior (not part of A2S); ``sigma`` is our choice.

    Args:
        height (int), width (int): Map size in pixels, >= 1.
        sigma (float): Standard deviation as a fraction of the width / height, > 0.

    Returns:
        np.ndarray: (height, width) float32 in (0, 1], about 1 at the centre.

    Raises:
        ValueError: non-positive size or sigma.
    """
    if height < 1 or width < 1 or not sigma > 0:
        raise ValueError(f'centre_prior: need height, width >= 1 and sigma > 0, got '
                         f'{height}, {width}, {sigma}')
    y = (np.arange(height, dtype=np.float64) + 0.5) / height - 0.5
    x = (np.arange(width, dtype=np.float64) + 0.5) / width - 0.5
    dist2 = y[:, None]**2 + x[None, :]**2
    return np.exp(-dist2 / (2.0 * sigma * sigma)).astype(np.float32)


def hard_unary(prob: np.ndarray, gt_prob: float = 0.7) -> np.ndarray:
    """The reference code's CRF input as a probability map (MODELS.md B.5.5).

    The map is min-max stretched (a constant map becomes all background), thresholded at > 0.5,
    and set to ``gt_prob`` on the foreground and ``1 - gt_prob`` elsewhere; ``-log`` of this is
    pydensecrf's ``unary_from_labels(labels, 2, gt_prob, zero_unsure=False)``.

    Args:
        prob (np.ndarray): (H, W) float map.
        gt_prob (float): Confidence of the thresholded label, in (0.5, 1).

    Returns:
        np.ndarray: (H, W) float32 with values ``gt_prob`` or ``1 - gt_prob``.
    """
    prob = np.asarray(prob, dtype=np.float32)
    low, high = float(prob.min()), float(prob.max())
    stretched = (prob - low) / (high - low) if high - low > 1e-12 else np.zeros_like(prob)
    return np.where(stretched > 0.5, gt_prob, 1.0 - gt_prob).astype(np.float32)


def build_cue(args):
    """The soft-map function ``f(img_bgr uint8 (H, W, 3)) -> float32 (H, W) in [0, 1]``."""
    if args.cue == 'centre':
        sigma = args.centre_sigma
        return lambda img: centre_prior(img.shape[0], img.shape[1], sigma)
    if args.cue == 'ft':
        from dbdseg.utils.saliency import frequency_tuned_saliency
        return lambda img: np.clip(frequency_tuned_saliency(img), 0.0, 1.0).astype(np.float32)
    return build_model_cue(args.config, args.checkpoint, args.device, args.cfg_options,
                           args.max_size)


def build_model_cue(config, checkpoint, device='cpu', cfg_options=None, max_size=0):
    """Stage-1 network run at each image's own size: ``f(img_bgr) -> sigmoid(sign * Theta)``.

    The config's test pipeline is replaced by image loading + packing (no resize), and the data
    preprocessor pads nothing at test time; normalisation stays the config's. With ``max_size``
    > 0, an image whose longer side exceeds it is shrunk (area interpolation, aspect ratio kept)
    for the network, and the map is resized back (bilinear) to the image size.

    Raises:
        SystemExit: missing config/checkpoint, or CUDA requested but unavailable.
    """
    from mmengine.config import Config

    from dbdseg.apis import inference_model, init_model

    if not osp.isfile(config):
        _fail(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.test_dataloader = None
    cfg.test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackBinarySegInputs')]
    if cfg.model.get('data_preprocessor') is not None:
        cfg.model.data_preprocessor['test_cfg'] = None
    try:
        model = init_model(cfg, None if checkpoint.lower() == 'none' else checkpoint, device=device)
    except (FileNotFoundError, RuntimeError) as exc:
        _fail(str(exc))
    if checkpoint.lower() == 'none':
        print(
            f'{PROG}: warning: no checkpoint: the stage-1 network has random weights (its maps '
            'carry little information; --cue centre or ft give classical cues)',
            file=sys.stderr,
            flush=True)

    def cue(img):
        h, w = img.shape[:2]
        if max_size and max(h, w) > max_size:
            scale = max_size / max(h, w)
            small = cv2.resize(
                img, (max(1, round(w * scale)), max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA)
            prob = inference_model(model, small).seg_logits.data[0].float().cpu().numpy()
            return np.clip(cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
        result = inference_model(model, img)
        return result.seg_logits.data[0].float().cpu().numpy()

    return cue


# ---------------------------------------------------------------------------- jobs
def collect_images(inputs, out_dirs):
    """``[(image path, stem)]`` with unique stems; outputs must not overwrite inputs."""
    try:
        images = list_images(inputs)
    except FileNotFoundError as exc:
        _fail(str(exc))
    if not images:
        _fail(f'no images found in {" ".join(inputs)} (suffixes: {" ".join(IMG_EXTENSIONS)})')
    by_stem = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in by_stem:
            _fail(f'two inputs have the same name "{stem}" and would write the same label: '
                  f'{by_stem[stem]} and {path}')
        by_stem[stem] = path
    inputs_real = {osp.realpath(p) for p in images}
    for stem, path in by_stem.items():
        for folder in out_dirs:
            if osp.realpath(osp.join(folder, stem + '.png')) in inputs_real:
                _fail(f'output {osp.join(folder, stem + ".png")} would overwrite the input image '
                      f'{path}; choose another output folder')
    return [(p, s) for s, p in by_stem.items()]


def _crf_job(payload):
    """Worker: ``(rgb, unary prob, median size, dense_crf kwargs) -> 0/255 uint8 label``."""
    rgb, prob, median_size, crf_kwargs = payload
    return crf_pseudo_label(rgb, prob, median_size=median_size, **crf_kwargs)


def _worker_init():
    cv2.setNumThreads(1)


def _make_pool(workers):
    """A process pool of ``workers`` CRF workers, or None for 0.

    Created before any model runs: on Linux the workers are forked from a process that has only
    imported the libraries (as mmengine's data loader workers are); elsewhere they are spawned.
    """
    if workers <= 0:
        return None
    method = 'fork' if sys.platform.startswith('linux') else 'spawn'
    ctx = multiprocessing.get_context(method)
    return ctx.Pool(processes=workers, initializer=_worker_init)


def _progress(items, enabled):
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return items
    return tqdm(items, desc='pseudo labels', unit='img', file=sys.stderr)


def _write(path, array):
    try:
        imwrite_atomic(path, array)
    except (OSError, ValueError) as exc:
        _fail(str(exc))


def main(argv=None):
    """Generate pseudo labels; ``argv`` defaults to ``sys.argv[1:]``.

    Returns:
        dict: ``written`` (label paths written by this run), ``finished`` (label paths that
        existed already and were left alone), ``skipped`` (``(image path, reason)`` of unreadable
        images, only with ``--skip-bad``).

    Raises:
        SystemExit: bad arguments, a missing file, an unreadable image without ``--skip-bad``, or
            an output that cannot be written (the message names the file).
    """
    args = parse_args(argv)
    if args.cue == 'model' and args.config.lower() == 'none':
        _fail('--cue model needs a stage-1 CONFIG (CONFIG may be "none" only with --cue centre '
              'or ft)')
    if args.cue != 'model' and (args.config.lower() != 'none' or args.checkpoint.lower() != 'none'):
        print(
            f'{PROG}: note: --cue {args.cue} runs no network; CONFIG and CKPT are not used',
            flush=True)
    out_dirs = [args.out] + ([args.save_soft] if args.save_soft else [])
    jobs = collect_images(args.images, out_dirs)
    for folder in out_dirs:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            _fail(f'cannot create the output folder {folder}: {exc}')

    def outputs(stem):
        label = osp.join(args.out, stem + '.png')
        soft = osp.join(args.save_soft, stem + '.png') if args.save_soft else None
        return label, soft

    finished, todo = [], []
    for path, stem in jobs:
        label, soft = outputs(stem)
        if osp.isfile(label) and (soft is None or osp.isfile(soft)):
            finished.append(label)
        else:
            todo.append((path, stem))
    print(
        f'{PROG}: {len(jobs)} image(s), {len(finished)} already finished, {len(todo)} to do; '
        f'cue={args.cue}, unary={args.unary}, crf={"off" if args.no_crf else "on"}, '
        f'workers={args.workers}',
        flush=True)
    crf_kwargs = dict(iterations=args.crf_iterations)
    written, skipped = [], []
    if not todo:
        return dict(written=written, finished=finished, skipped=skipped)

    pool = _make_pool(args.workers) if not args.no_crf else None
    pending = collections.deque()
    error = None
    t0 = time.perf_counter()

    def run_crf(path, result):
        try:
            return result.get() if pool is not None else _crf_job(result)
        except Exception as exc:  # noqa: BLE001 - name the image, keep finished outputs
            _fail(f'the CRF failed on {path}: {type(exc).__name__}: {exc} ({len(written)} '
                  'label(s) written before it are kept; rerun to continue)')

    def finish_oldest():
        path, label_path, result = pending.popleft()
        _write(label_path, run_crf(path, result))
        written.append(label_path)

    try:
        cue = build_cue(args)
        for path, stem in _progress(todo, not args.no_progress):
            label_path, soft_path = outputs(stem)
            try:
                img = read_image(path)
            except (FileNotFoundError, ValueError) as exc:
                if not args.skip_bad:
                    error = str(exc)
                    break
                skipped.append((path, str(exc)))
                print(f'{PROG}: warning: skipping {path}: {exc}', file=sys.stderr, flush=True)
                continue
            prob = cue(img)
            if prob.shape != img.shape[:2]:
                _fail(f'the {args.cue} cue returned a map of shape {prob.shape} for {path} '
                      f'of size {img.shape[:2]}')
            if soft_path is not None and not osp.isfile(soft_path):
                _write(soft_path, prob_to_uint8(prob))
            if osp.isfile(label_path):
                continue  # only the soft map was missing
            unary = prob if args.unary == 'soft' else hard_unary(prob, args.gt_prob)
            if args.no_crf:
                _write(label_path, median_binary(unary > 0.5, args.median_size))
                written.append(label_path)
                continue
            payload = (np.ascontiguousarray(img[:, :, ::-1]), unary, args.median_size, crf_kwargs)
            if pool is None:
                _write(label_path, run_crf(path, payload))
                written.append(label_path)
            else:
                pending.append((path, label_path, pool.apply_async(_crf_job, (payload, ))))
                while len(pending) > 2 * args.workers:
                    finish_oldest()
        while pending:
            finish_oldest()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if error is not None:
        _fail(f'{error} ({len(written)} label(s) written before it are kept; rerun to continue, '
              'or pass --skip-bad)')
    elapsed = time.perf_counter() - t0
    print(
        f'{PROG}: wrote {len(written)} label(s) to {args.out} in {elapsed:.1f} s; '
        f'{len(finished)} already finished',
        flush=True)
    if skipped:
        print(f'{PROG}: skipped {len(skipped)} unreadable image(s):', flush=True)
        for path, reason in skipped:
            print(f'  {path}: {reason}', flush=True)
    return dict(written=written, finished=finished, skipped=skipped)


if __name__ == '__main__':
    main(sys.argv[1:])
