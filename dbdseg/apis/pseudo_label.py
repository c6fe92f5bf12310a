"""A2S pseudo labels ``G = MF(CRF(sigmoid(sign * Theta)))`` (Zhou et al., TCSVT 2023, Eq. 6).

Stage 1 of A2S (Sec. III-A) ends by turning the activation of its network into pseudo labels for
stage 2: a soft foreground map, refined by a dense CRF (Kraehenbuehl & Koltun, NIPS 2011) and a
median filter. :func:`generate_pseudo_labels` does this for a list of images:

1. a soft foreground map in [0, 1] from a *cue* (:func:`build_cue`):

   * ``'model'``: the stage-1 network (``ActivationHead``) run at the image's OWN resolution
     (:func:`build_model_cue`), as the authors' released code (github.com/moothes/A2S-USOD,
     ``test.py --crf``) does for its CRF pass;
   * ``'centre'``: a centre-prior Gaussian (:func:`dbdseg.utils.saliency.centre_prior`);
   * ``'ft'``: frequency-tuned saliency (Achanta et al., CVPR 2009;
     :func:`dbdseg.utils.saliency.frequency_tuned_saliency`).

   ``'centre'`` and ``'ft'`` are classical cues, not from the paper, for runs where an untrained
   (random) stage 1 is uninformative;
2. the CRF unary: ``'soft'`` (the map itself, as Eq. 6 writes it) or ``'hard'``
   (:func:`hard_unary`, what the released code feeds);
3. :func:`dbdseg.utils.crf.crf_pseudo_label` (dense CRF, argmax, median filter), in worker
   processes while the calling process reads images and runs the cue; or, without the CRF, the
   unary thresholded at 0.5 and median filtered (:func:`dbdseg.utils.crf.median_binary`).

Outputs are ``<stem>.png`` files, 0/255 uint8 (255 = salient), at each image's size, written
atomically (:func:`dbdseg.utils.fileio.imwrite_atomic`); a run is restartable.
"""
import collections
import os
import os.path as osp
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.config import Config

from dbdseg.apis.inference import inference_model, init_model, read_image
from dbdseg.utils.crf import crf_job as _crf_job
from dbdseg.utils.crf import crf_pseudo_label, make_crf_pool, median_binary  # noqa: F401
from dbdseg.utils.fileio import collect_images as fileio_collect_images
from dbdseg.utils.fileio import imwrite_atomic, prob_to_uint8
from dbdseg.utils.saliency import centre_prior, frequency_tuned_saliency

__all__ = [
    'CUES', 'UNARIES', 'PseudoLabelError', 'build_cue', 'build_model_cue', 'collect_images',
    'generate_pseudo_labels', 'hard_unary', 'make_crf_pool'
]

#: Names of the soft-map cues of :func:`build_cue`.
CUES = ('model', 'centre', 'ft')
#: Names of the CRF unaries of :func:`generate_pseudo_labels`.
UNARIES = ('soft', 'hard')

Cue = Callable[[np.ndarray], np.ndarray]


class PseudoLabelError(RuntimeError):
    """A pseudo-label run cannot go on; the message names the file or setting at fault.

    Raised for a missing config or input, clashing inputs or outputs, an unreadable image (without
    ``skip_bad``), a cue map of the wrong size, a failed CRF or an output that cannot be written.
    Outputs finished before the error are kept, so a rerun continues.
    """


def hard_unary(prob: np.ndarray, gt_prob: float = 0.7) -> np.ndarray:
    """The CRF input of the authors' released code, as a probability map.

    The map is min-max stretched (a constant map becomes all background), thresholded at > 0.5,
    and set to ``gt_prob`` on the foreground and ``1 - gt_prob`` elsewhere; ``-log`` of this is
    pydensecrf's ``unary_from_labels(labels, 2, gt_prob, zero_unsure=False)``, the unary of
    github.com/moothes/A2S-USOD (``util.py``) where Eq. 6 of the paper writes the soft map.

    Args:
        prob (np.ndarray): (H, W) float map.
        gt_prob (float): Confidence of the thresholded label, in (0.5, 1). Defaults to 0.7 (the
            released code's value).

    Returns:
        np.ndarray: (H, W) float32 with values ``gt_prob`` or ``1 - gt_prob``.
    """
    prob = np.asarray(prob, dtype=np.float32)
    low, high = float(prob.min()), float(prob.max())
    stretched = (prob - low) / (high - low) if high - low > 1e-12 else np.zeros_like(prob)
    return np.where(stretched > 0.5, gt_prob, 1.0 - gt_prob).astype(np.float32)


def build_model_cue(config: str,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu',
                    cfg_options: Optional[dict] = None,
                    max_size: int = 0,
                    prog: str = 'generate_pseudo_labels') -> Cue:
    """Stage-1 network run at each image's own size: ``f(img_bgr) -> sigmoid(sign * Theta)``.

    The config's test pipeline is replaced by image loading + packing (no resize), and the data
    preprocessor pads nothing at test time; normalisation stays the config's (the released code
    also drops the resize for its CRF pass). With ``max_size`` > 0, an image whose longer side
    exceeds it is shrunk (area interpolation, aspect ratio kept) for the network, and the map is
    resized back (bilinear) to the image size.

    Args:
        config (str): Stage-1 config file.
        checkpoint (str, optional): Its checkpoint. Defaults to None: random weights (a warning is
            printed to stderr: such maps carry little information).
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Settings merged into the config. Defaults to None.
        max_size (int): Longest side the network sees, >= 0; 0 = the image's own size.
            Defaults to 0.
        prog (str): Prefix of the printed warning. Defaults to ``'generate_pseudo_labels'``.

    Returns:
        Callable: ``f(img)`` of an (H, W, 3) uint8 BGR image -> (H, W) float32 map in [0, 1].

    Raises:
        PseudoLabelError: missing config or checkpoint, or CUDA requested but unavailable.
    """
    if not osp.isfile(config):
        raise PseudoLabelError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.test_dataloader = None
    cfg.test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackBinarySegInputs')]
    if cfg.model.get('data_preprocessor') is not None:
        cfg.model.data_preprocessor['test_cfg'] = None
    try:
        model = init_model(cfg, checkpoint, device=device)
    except (FileNotFoundError, RuntimeError) as exc:
        raise PseudoLabelError(str(exc)) from exc
    if checkpoint is None:
        print(
            f'{prog}: warning: no checkpoint: the stage-1 network has random weights (its maps '
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


def build_cue(cue: str,
              centre_sigma: float = 0.25,
              config: Optional[str] = None,
              checkpoint: Optional[str] = None,
              device: str = 'cpu',
              cfg_options: Optional[dict] = None,
              max_size: int = 0,
              prog: str = 'generate_pseudo_labels') -> Cue:
    """The soft-map function of a named cue.

    Args:
        cue (str): One of :data:`CUES`: ``'model'`` (:func:`build_model_cue` with ``config``,
            ``checkpoint``, ``device``, ``cfg_options``, ``max_size``, ``prog``), ``'centre'``
            (:func:`dbdseg.utils.saliency.centre_prior` with ``centre_sigma``) or ``'ft'``
            (:func:`dbdseg.utils.saliency.frequency_tuned_saliency`, clipped to [0, 1]).
        centre_sigma (float): ``'centre'``: standard deviation as a fraction of the width /
            height, > 0. Defaults to 0.25.
        config, checkpoint, device, cfg_options, max_size, prog: ``'model'`` only; see
            :func:`build_model_cue`.

    Returns:
        Callable: ``f(img)`` of an (H, W, 3) uint8 BGR image -> (H, W) float32 map in [0, 1].

    Raises:
        ValueError: an unknown ``cue``, or ``'model'`` without a ``config``.
        PseudoLabelError: see :func:`build_model_cue`.
    """
    if cue == 'centre':
        return lambda img: centre_prior(img.shape[0], img.shape[1], centre_sigma)
    if cue == 'ft':
        return lambda img: np.clip(frequency_tuned_saliency(img), 0.0, 1.0).astype(np.float32)
    if cue != 'model':
        raise ValueError(f'build_cue: cue must be one of {CUES}, got {cue!r}')
    if config is None:
        raise ValueError('build_cue: the model cue needs a stage-1 config')
    return build_model_cue(config, checkpoint, device, cfg_options, max_size, prog=prog)


def collect_images(inputs: Sequence[str], out_dirs: Sequence[str]) -> List[Tuple[str, str]]:
    """Expand image files / folders into ``[(image path, stem)]`` with unique stems.

    :func:`dbdseg.utils.fileio.collect_images` with the pseudo-label outputs
    ``<folder>/<stem>.png`` of every folder in ``out_dirs``.

    Args:
        inputs (Sequence[str]): Image files and / or folders.
        out_dirs (Sequence[str]): Output folders; ``<folder>/<stem>.png`` must not be an input.

    Returns:
        list[tuple[str, str]]: ``(path, stem)`` in input order.

    Raises:
        PseudoLabelError: a missing input, no image at all, two inputs with the same stem, or an
            output that would overwrite an input.
    """
    try:
        return fileio_collect_images(
            inputs,
            lambda stem: [osp.join(folder, stem + '.png') for folder in out_dirs],
            what='label')
    except (FileNotFoundError, ValueError) as exc:
        raise PseudoLabelError(str(exc)) from exc


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
        raise PseudoLabelError(str(exc)) from exc


def generate_pseudo_labels(inputs: Union[str, Iterable[str]],
                           out_dir: str,
                           cue: Union[str, Cue] = 'model',
                           soft_dir: Optional[str] = None,
                           unary: str = 'soft',
                           gt_prob: float = 0.7,
                           crf: bool = True,
                           crf_iterations: int = 10,
                           median_size: int = 7,
                           workers: int = 2,
                           skip_bad: bool = False,
                           progress: bool = True,
                           cue_cfg: Optional[dict] = None,
                           prog: str = 'generate_pseudo_labels') -> Dict[str, list]:
    """Write the A2S pseudo label ``out_dir/<stem>.png`` of every input image (Eq. 6).

    Per image (EXIF orientation applied): the soft map of ``cue``; optionally saved as
    ``soft_dir/<stem>.png`` (``round(p * 255)``, :func:`dbdseg.utils.fileio.prob_to_uint8`); the
    unary (``'soft'``: the map; ``'hard'``: :func:`hard_unary` with ``gt_prob``); then
    :func:`dbdseg.utils.crf.crf_pseudo_label` (2 labels, ``crf_iterations`` mean-field steps,
    the released code's kernels: Gaussian sxy 3 compat 3, bilateral sxy 50 srgb 5 compat 10;
    argmax; median filter of size ``median_size``). Without ``crf`` the unary is thresholded at
    0.5 and median filtered. Labels are uint8, 255 = salient, 0 = background, at the image's size.

    The CRF runs in ``workers`` processes (0 = in this process) while this process reads images
    and runs the cue; at most ``2 * workers`` CRF jobs wait at a time.

    Restartable: an image whose outputs (label, and soft map with ``soft_dir``) exist is skipped
    and its files are never rewritten; with only the soft map missing, only that is written.
    Every file is written to a temporary file ``.<name>.<random>.tmp`` in the same folder and
    moved into place with ``os.replace``, so ``<stem>.png`` never holds a partial file, and a
    leftover temporary file is never taken for an output. Nothing is built (no model loaded)
    when every output exists.

    Progress (a line before and after, the skipped images) is printed to stdout, warnings and the
    tqdm progress bar to stderr, each prefixed with ``prog``.

    Args:
        inputs (str | Iterable[str]): Image files and / or folders (see :func:`collect_images`).
        out_dir (str): Folder of the labels; created if missing.
        cue (str | Callable): A name of :data:`CUES` (built by :func:`build_cue` with
            ``cue_cfg`` once there is work to do) or a function ``f(img_bgr uint8 (H, W, 3)) ->
            (H, W) float map in [0, 1]``. Defaults to ``'model'``.
        soft_dir (str, optional): Also write the soft maps there. Defaults to None.
        unary (str): ``'soft'`` or ``'hard'`` (:data:`UNARIES`). Defaults to ``'soft'``.
        gt_prob (float): ``'hard'`` unary confidence, in (0.5, 1). Defaults to 0.7.
        crf (bool): Run the CRF. Defaults to True.
        crf_iterations (int): Mean-field iterations, >= 1. Defaults to 10.
        median_size (int): Odd median-filter size; 1 = none. Defaults to 7.
        workers (int): CRF processes, >= 0. Defaults to 2.
        skip_bad (bool): Skip unreadable images (warn, list them at the end) instead of raising.
            Defaults to False.
        progress (bool): Show a tqdm progress bar. Defaults to True.
        cue_cfg (dict, optional): Keyword arguments of :func:`build_cue` for a named cue.
            Defaults to None.
        prog (str): Prefix of the printed lines. Defaults to ``'generate_pseudo_labels'``.

    Returns:
        dict: ``written`` (label paths written by this run), ``finished`` (label paths that
        existed already and were left alone), ``skipped`` (``(image path, reason)`` of unreadable
        images, only with ``skip_bad``).

    Raises:
        ValueError: an unknown ``cue`` name or ``unary``.
        PseudoLabelError: a missing file, clashing inputs / outputs, an unreadable image without
            ``skip_bad``, a cue map of the wrong size, a failed CRF, or an output that cannot be
            written (the message names the file; outputs finished before are kept).
    """
    if isinstance(cue, str) and cue not in CUES:
        raise ValueError(f'generate_pseudo_labels: cue must be one of {CUES} or a function, '
                         f'got {cue!r}')
    if unary not in UNARIES:
        raise ValueError(f'generate_pseudo_labels: unary must be one of {UNARIES}, got {unary!r}')
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [os.fspath(p) for p in inputs]
    out_dir = os.fspath(out_dir)
    soft_dir = os.fspath(soft_dir) if soft_dir else None
    cue_name = cue if isinstance(cue, str) else getattr(cue, '__name__', 'custom')
    out_dirs = [out_dir] + ([soft_dir] if soft_dir else [])
    jobs = collect_images(inputs, out_dirs)
    for folder in out_dirs:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise PseudoLabelError(f'cannot create the output folder {folder}: {exc}') from exc

    def outputs(stem):
        label = osp.join(out_dir, stem + '.png')
        soft = osp.join(soft_dir, stem + '.png') if soft_dir else None
        return label, soft

    finished, todo = [], []
    for path, stem in jobs:
        label, soft = outputs(stem)
        if osp.isfile(label) and (soft is None or osp.isfile(soft)):
            finished.append(label)
        else:
            todo.append((path, stem))
    print(
        f'{prog}: {len(jobs)} image(s), {len(finished)} already finished, {len(todo)} to do; '
        f'cue={cue_name}, unary={unary}, crf={"on" if crf else "off"}, workers={workers}',
        flush=True)
    crf_kwargs = dict(iterations=crf_iterations)
    written, skipped = [], []
    if not todo:
        return dict(written=written, finished=finished, skipped=skipped)

    pool = make_crf_pool(workers) if crf else None
    pending = collections.deque()
    error = None
    t0 = time.perf_counter()

    def run_crf(path, result):
        try:
            return result.get() if pool is not None else _crf_job(result)
        except Exception as exc:  # noqa: BLE001 - name the image, keep finished outputs
            raise PseudoLabelError(
                f'the CRF failed on {path}: {type(exc).__name__}: {exc} ({len(written)} '
                'label(s) written before it are kept; rerun to continue)') from exc

    def finish_oldest():
        path, label_path, result = pending.popleft()
        _write(label_path, run_crf(path, result))
        written.append(label_path)

    try:
        soft_map = build_cue(cue, prog=prog, **(cue_cfg or {})) if isinstance(cue, str) else cue
        for path, stem in _progress(todo, progress):
            label_path, soft_path = outputs(stem)
            try:
                img = read_image(path)
            except (FileNotFoundError, ValueError) as exc:
                if not skip_bad:
                    error = str(exc)
                    break
                skipped.append((path, str(exc)))
                print(f'{prog}: warning: skipping {path}: {exc}', file=sys.stderr, flush=True)
                continue
            prob = soft_map(img)
            if prob.shape != img.shape[:2]:
                raise PseudoLabelError(f'the {cue_name} cue returned a map of shape {prob.shape} '
                                       f'for {path} of size {img.shape[:2]}')
            if soft_path is not None and not osp.isfile(soft_path):
                _write(soft_path, prob_to_uint8(prob))
            if osp.isfile(label_path):
                continue  # only the soft map was missing
            unary_prob = prob if unary == 'soft' else hard_unary(prob, gt_prob)
            if not crf:
                _write(label_path, median_binary(unary_prob > 0.5, median_size))
                written.append(label_path)
                continue
            payload = (np.ascontiguousarray(img[:, :, ::-1]), unary_prob, median_size, crf_kwargs)
            if pool is None:
                _write(label_path, run_crf(path, payload))
                written.append(label_path)
            else:
                pending.append((path, label_path, pool.apply_async(_crf_job, (payload, ))))
                while len(pending) > 2 * workers:
                    finish_oldest()
        while pending:
            finish_oldest()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if error is not None:
        raise PseudoLabelError(f'{error} ({len(written)} label(s) written before it are kept; '
                               'rerun to continue, or pass --skip-bad)')
    elapsed = time.perf_counter() - t0
    print(
        f'{prog}: wrote {len(written)} label(s) to {out_dir} in {elapsed:.1f} s; '
        f'{len(finished)} already finished',
        flush=True)
    if skipped:
        print(f'{prog}: skipped {len(skipped)} unreadable image(s):', flush=True)
        for path, reason in skipped:
            print(f'  {path}: {reason}', flush=True)
    return dict(written=written, finished=finished, skipped=skipped)
