"""Fully connected CRF refinement of a foreground probability map (A2S pseudo labels, Eq. 6).

Source: Zhou et al. (A2S, TCSVT 2023) Eq. 6, ``G = MF(CRF(sigmoid(sign * Theta)))``; the paper
gives no CRF settings, so they follow the authors' released code (github.com/moothes/A2S-USOD,
``test.py --crf`` and ``util.py``): pydensecrf ``DenseCRF2D`` with 2 labels, Gaussian pairwise
term sxy 3 / compat 3, bilateral term sxy 50 / srgb 5 / compat 10, 10 mean-field iterations, then a
median filter of size 7. The CRF is Kraehenbuehl & Koltun, "Efficient Inference in Fully Connected
CRFs with Gaussian Edge Potentials" (NIPS 2011), through the ``pydensecrf`` module (pip package
``pydensecrf2``), imported only when a function here is called.

This module imports only numpy and OpenCV at load time (not torch or mmseg), so worker processes
and tools can use it cheaply.
"""
import numbers

import cv2
import numpy as np

__all__ = [
    'crf_job', 'crf_pseudo_label', 'crf_worker_init', 'dense_crf', 'make_crf_pool', 'median_binary'
]

#: Lower clip of the probabilities before ``-log`` (pydensecrf's ``unary_from_softmax`` default).
PROB_CLIP = 1e-5


def _check_inputs(image: np.ndarray, prob: np.ndarray, fn: str) -> None:
    """Raise ``TypeError`` / ``ValueError`` naming the problem for bad ``image`` / ``prob``."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f'{fn}: image must be an (H, W, 3) uint8 RGB numpy array, got '
                        f'{type(image).__name__}')
    if not isinstance(prob, np.ndarray):
        raise TypeError(f'{fn}: prob must be an (H, W) float numpy array, got '
                        f'{type(prob).__name__}')
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'{fn}: image must have shape (H, W, 3), got {image.shape}')
    if image.dtype != np.uint8:
        raise ValueError(f'{fn}: image must be uint8 (0..255 RGB), got dtype {image.dtype}')
    if prob.ndim != 2:
        raise ValueError(f'{fn}: prob must have shape (H, W), got {prob.shape}')
    if not np.issubdtype(prob.dtype, np.floating):
        raise ValueError(f'{fn}: prob must be a float array of probabilities in [0, 1], got '
                         f'dtype {prob.dtype}')
    if prob.shape != image.shape[:2]:
        raise ValueError(f'{fn}: prob shape {prob.shape} does not match the image size '
                         f'{image.shape[:2]}')
    if prob.size == 0:
        raise ValueError(f'{fn}: empty image (shape {image.shape})')
    if not np.all(np.isfinite(prob)):
        raise ValueError(f'{fn}: prob contains NaN or infinite values')
    low, high = float(prob.min()), float(prob.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f'{fn}: prob must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]')


def _check_positive(name: str, value, fn: str, integer: bool = False) -> None:
    ok_type = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if isinstance(value, bool) or not ok_type or not value > 0:
        kind = 'a positive integer' if integer else 'a positive number'
        raise ValueError(f'{fn}: {name} must be {kind}, got {value!r}')


def dense_crf(image: np.ndarray,
              prob: np.ndarray,
              iterations: int = 10,
              gauss_sxy: float = 3,
              gauss_compat: float = 3,
              bilateral_sxy: float = 50,
              bilateral_srgb: float = 5,
              bilateral_compat: float = 10) -> np.ndarray:
    """Refine a foreground probability map with a 2-label fully connected CRF.

    Unary: ``-log(max(p, 1e-5))`` for foreground and ``-log(max(1 - p, 1e-5))`` for background
    (pydensecrf's ``unary_from_softmax``). Pairwise (Potts, pydensecrf's default diagonal kernels
    and symmetric normalisation): a Gaussian smoothness kernel on pixel positions
    (``gauss_sxy`` pixels, weight ``gauss_compat``) and a bilateral appearance kernel on positions
    and RGB colours (``bilateral_sxy`` pixels, ``bilateral_srgb`` colour levels, weight
    ``bilateral_compat``). Mean-field inference for ``iterations`` steps. Defaults are the A2S
    reference settings (the authors' released code).

    The A2S reference feeds a hard unary instead (its min-max-normalised map thresholded at 0.5,
    ``unary_from_labels`` with ``gt_prob=0.7``). That is this function with ``prob`` set to 0.7
    on the thresholded foreground and 0.3 elsewhere: the two unaries are identical.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image (colour order does not change the result:
            the bilateral kernel uses Euclidean colour distances).
        prob (np.ndarray): (H, W) float foreground probabilities in [0, 1].
        iterations (int): Mean-field iterations, >= 1. Defaults to 10.
        gauss_sxy (float): Gaussian kernel spatial std in pixels. Defaults to 3.
        gauss_compat (float): Gaussian kernel weight. Defaults to 3.
        bilateral_sxy (float): Bilateral kernel spatial std in pixels. Defaults to 50.
        bilateral_srgb (float): Bilateral kernel colour std (0..255 units). Defaults to 5.
        bilateral_compat (float): Bilateral kernel weight. Defaults to 10.

    Returns:
        np.ndarray: (H, W) float32 in [0, 1], the CRF's foreground marginal.

    Raises:
        TypeError: ``image`` or ``prob`` is not a numpy array.
        ValueError: wrong shapes or dtypes, sizes that differ, probabilities outside [0, 1] or
            not finite, or a non-positive setting.
        ImportError: pydensecrf is not installed (the message says which package to install).
    """
    fn = 'dense_crf'
    _check_inputs(image, prob, fn)
    _check_positive('iterations', iterations, fn, integer=True)
    for name, value in (('gauss_sxy', gauss_sxy), ('gauss_compat', gauss_compat), ('bilateral_sxy',
                                                                                   bilateral_sxy),
                        ('bilateral_srgb', bilateral_srgb), ('bilateral_compat', bilateral_compat)):
        _check_positive(name, value, fn)
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as exc:  # pragma: no cover - installed by tools/install.sh
        raise ImportError('dense_crf needs the pydensecrf module: pip install pydensecrf2 '
                          '(the old pydensecrf 1.0rc3 does not build on Python 3.11)') from exc
    h, w = prob.shape
    p = prob.astype(np.float32).reshape(1, -1)
    unary = -np.log(np.maximum(np.concatenate([1.0 - p, p], axis=0), PROB_CLIP))
    crf = dcrf.DenseCRF2D(w, h, 2)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=float(gauss_sxy), compat=float(gauss_compat))
    crf.addPairwiseBilateral(
        sxy=float(bilateral_sxy),
        srgb=float(bilateral_srgb),
        rgbim=np.ascontiguousarray(image),
        compat=float(bilateral_compat))
    marginals = np.asarray(crf.inference(int(iterations)), dtype=np.float32).reshape(2, h, w)
    return np.clip(marginals[1], 0.0, 1.0)


def crf_pseudo_label(image: np.ndarray,
                     prob: np.ndarray,
                     median_size: int = 7,
                     **crf_kwargs) -> np.ndarray:
    """A2S pseudo label (Eq. 6): dense CRF, argmax, then a median filter.

    ``label = medianBlur(255 * (dense_crf(image, prob) > 0.5), median_size)``; ``> 0.5`` is the
    argmax of the two marginals (a tie goes to background, as ``argmax`` does).

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        prob (np.ndarray): (H, W) float foreground probabilities in [0, 1].
        median_size (int): Odd median-filter aperture (OpenCV ``medianBlur``); 1 disables the
            filter. Defaults to 7 (the released code's value).
        **crf_kwargs: Keyword arguments of :func:`dense_crf` (``iterations``, ``gauss_sxy``,
            ...).

    Returns:
        np.ndarray: (H, W) uint8 in {0, 255} (255 = foreground / salient).

    Raises:
        TypeError, ValueError, ImportError: as :func:`dense_crf`; ``ValueError`` also for a
            ``median_size`` that is not a positive odd integer, or unknown ``crf_kwargs``.
    """
    if (isinstance(median_size, bool) or not isinstance(median_size, numbers.Integral)
            or median_size < 1 or median_size % 2 == 0):
        raise ValueError(f'crf_pseudo_label: median_size must be a positive odd integer, got '
                         f'{median_size!r}')
    allowed = {
        'iterations', 'gauss_sxy', 'gauss_compat', 'bilateral_sxy', 'bilateral_srgb',
        'bilateral_compat'
    }
    unknown = sorted(set(crf_kwargs) - allowed)
    if unknown:
        raise ValueError(f'crf_pseudo_label: unknown dense_crf arguments {unknown}; allowed: '
                         f'{sorted(allowed)}')
    marginal = dense_crf(image, prob, **crf_kwargs)
    return median_binary(marginal > 0.5, median_size)


def median_binary(mask: np.ndarray, median_size: int = 7) -> np.ndarray:
    """0/255 uint8 image of a boolean (H, W) mask after an OpenCV median filter.

    Args:
        mask (np.ndarray): (H, W) boolean (or 0/1) foreground mask.
        median_size (int): Odd aperture; 1 = no filtering. Defaults to 7.

    Returns:
        np.ndarray: (H, W) uint8 in {0, 255}.
    """
    label = (np.asarray(mask) > 0).astype(np.uint8) * 255
    if median_size > 1:
        label = cv2.medianBlur(label, int(median_size))
    return label


def crf_job(payload: tuple) -> np.ndarray:
    """One CRF pseudo label in a worker process: :func:`crf_pseudo_label` of a payload tuple.

    Args:
        payload (tuple): ``(rgb image (H, W, 3) uint8, unary probability (H, W) float in [0, 1],
            median size (int), dict of keyword arguments of :func:`dense_crf`)``.

    Returns:
        np.ndarray: (H, W) uint8 label, 0 or 255.
    """
    rgb, prob, median_size, crf_kwargs = payload
    return crf_pseudo_label(rgb, prob, median_size=median_size, **crf_kwargs)


def crf_worker_init() -> None:
    """Initialiser of a CRF worker process: one OpenCV thread (the pool gives the parallelism)."""
    cv2.setNumThreads(1)


def make_crf_pool(workers: int):
    """A process pool of ``workers`` CRF workers running :func:`crf_job`, or None for 0.

    On Linux the workers fork from mmengine-free ``forkserver`` processes that have imported only
    this module (numpy, OpenCV, pydensecrf): forking the caller itself can deadlock once it has
    started threads (torch's or OpenCV's thread pools, as any process that has run a model has).
    Elsewhere they are spawned.

    Args:
        workers (int): number of processes; <= 0 gives None.

    Returns:
        multiprocessing.pool.Pool | None: the pool; the caller terminates it.
    """
    if workers <= 0:
        return None
    import multiprocessing
    import sys
    if sys.platform.startswith('linux'):
        ctx = multiprocessing.get_context('forkserver')
        ctx.set_forkserver_preload([__name__])
    else:  # pragma: no cover - macOS / Windows
        ctx = multiprocessing.get_context('spawn')
    return ctx.Pool(processes=workers, initializer=crf_worker_init)
