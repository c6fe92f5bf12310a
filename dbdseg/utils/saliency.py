"""Classical, model-free saliency detectors (stand-ins until a dbdseg SOD model is trained).

The real-time DBD method of Zhang & Yan (ECCV 2020, Section 3.3) weights the pixels where the
saliency map and the in-focus map disagree (hard mining). It takes the saliency maps from a
learned SOD model; the detectors here compute a map from the image alone, with no training and no
label, so experiments can run before a SOD checkpoint exists. They are much weaker than learned
SOD models (they find "colourful / distinct" regions, not objects).

* :func:`frequency_tuned_saliency`: Achanta, Hemami, Estrada, Suesstrunk, "Frequency-tuned Salient
  Region Detection", CVPR 2009.
* :func:`spectral_residual_saliency`: Hou & Zhang, "Saliency Detection: A Spectral Residual
  Approach", CVPR 2007.
* :func:`centre_prior`: the centre-bias Gaussian, a classical image-independent prior (used as a
  cue for A2S pseudo labels and as a reference row when evaluating saved maps).

The detectors take an OpenCV / mmcv BGR uint8 image and return an (H, W) float32 map in [0, 1] at
the image's size. This module imports only numpy and OpenCV at load time (scikit-image when
:func:`frequency_tuned_saliency` runs; not torch or mmseg), so worker processes and tools can use it
cheaply.
"""
from typing import Optional, Union

import cv2
import numpy as np

__all__ = ['frequency_tuned_saliency', 'spectral_residual_saliency', 'centre_prior', 'BINOMIAL_5']

#: The 5-tap binomial kernel (1 4 6 4 1) / 16 of Achanta et al. 2009, applied separably (5 x 5).
BINOMIAL_5 = np.array([1., 4., 6., 4., 1.], dtype=np.float64) / 16.0


def _check_bgr_uint8(img: np.ndarray, fn: str) -> np.ndarray:
    """Return ``img`` as a contiguous array if it is an (H, W, 3) uint8 image, else raise."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f'{fn}: expected an (H, W, 3) uint8 BGR numpy array, got '
                         f'{type(img).__name__}')
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'{fn}: expected an (H, W, 3) uint8 BGR image, got shape {img.shape} '
                         f'and dtype {img.dtype}')
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f'{fn}: the image is empty (shape {img.shape})')
    return np.ascontiguousarray(img)


def _min_max(sal: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Stretch to [0, 1] as float32; a (nearly) constant map becomes all zeros."""
    low, high = float(sal.min()), float(sal.max())
    if not np.isfinite(low) or not np.isfinite(high) or high - low <= eps:
        return np.zeros(sal.shape, np.float32)
    out = (sal - low) / (high - low)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def frequency_tuned_saliency(img_bgr: np.ndarray, blur_sigma: Optional[float] = None) -> np.ndarray:
    """Frequency-tuned saliency of Achanta et al. (CVPR 2009), min-max stretched to [0, 1].

    ``S(x, y) = || I_mu - I_whc(x, y) ||`` (Eq. 5 of the paper): the Euclidean distance in CIE
    L*a*b* between the mean colour of the image ``I_mu`` and each pixel of a Gaussian-blurred copy
    ``I_whc``. Steps:

    1. BGR -> RGB (channel reversal), then ``skimage.color.rgb2lab`` (sRGB, D65 white, 2 degree
       observer; L in [0, 100], a and b about [-128, 127]), computed in float64.
    2. ``I_mu``: the mean L*a*b* vector of the (unblurred) image.
    3. ``I_whc``: the L*a*b* image blurred channel by channel. ``blur_sigma=None`` (default) uses
       the paper's 5 x 5 separable binomial kernel ``[1 4 6 4 1] / 16`` (a discrete Gaussian with
       sigma 1); ``blur_sigma > 0`` uses ``cv2.GaussianBlur`` with that sigma in pixels (kernel
       size chosen by OpenCV); ``blur_sigma = 0`` skips the blur. Borders are reflected
       (``cv2.BORDER_REFLECT_101``). The paper writes the blur on "the original image" and the
       distance in Lab without fixing the order; blurring in Lab is our choice.
    4. Euclidean norm over the three channels, then min-max to [0, 1] per image (our choice, so
       maps of different images share a range; the paper thresholds them adaptively instead).

    Args:
        img_bgr (np.ndarray): (H, W, 3) uint8 image in BGR order (as read by OpenCV / mmcv).
        blur_sigma (float, optional): See step 3. Defaults to None (5 x 5 binomial).

    Returns:
        np.ndarray: (H, W) float32 saliency in [0, 1] (1 = most salient). All zeros for an image
        of one colour (the distances are all equal).

    Raises:
        ValueError: ``img_bgr`` is not an (H, W, 3) uint8 numpy array (the message gives its shape
            and dtype), or ``blur_sigma`` is negative or not finite.
    """
    img = _check_bgr_uint8(img_bgr, 'frequency_tuned_saliency')
    if blur_sigma is not None and (not np.isfinite(blur_sigma) or blur_sigma < 0):
        raise ValueError(f'frequency_tuned_saliency: blur_sigma must be None or >= 0, got '
                         f'{blur_sigma}')
    from skimage.color import rgb2lab  # imported here: `import dbdseg` stays light
    lab = rgb2lab(img[..., ::-1]).astype(np.float64)  # (H, W, 3): L, a, b
    mean = lab.reshape(-1, 3).mean(axis=0)
    if blur_sigma is None:
        blurred = cv2.sepFilter2D(
            lab, cv2.CV_64F, BINOMIAL_5, BINOMIAL_5, borderType=cv2.BORDER_REFLECT_101)
    elif blur_sigma > 0:
        blurred = cv2.GaussianBlur(
            lab, (0, 0), float(blur_sigma), borderType=cv2.BORDER_REFLECT_101)
    else:
        blurred = lab
    sal = np.sqrt(np.sum((blurred - mean)**2, axis=2))
    return _min_max(sal)


def spectral_residual_saliency(img_bgr: np.ndarray,
                               width: int = 64,
                               blur_sigma: float = 2.5) -> np.ndarray:
    """Spectral-residual saliency of Hou & Zhang (CVPR 2007), min-max stretched to [0, 1].

    On the grey image (``cv2.COLOR_BGR2GRAY``, in [0, 1]) resized to ``width`` pixels wide (aspect
    kept, ``cv2.INTER_AREA``): ``A, P`` = log amplitude and phase of its 2-D FFT; the spectral
    residual ``R = A - mean3x3(A)`` (3 x 3 box filter, replicated border); the map
    ``|IFFT(exp(R + iP))|^2`` is smoothed by a Gaussian of ``blur_sigma`` pixels (at the small
    scale), resized back to the image size (bilinear) and min-max stretched per image. The values
    (width 64, 3 x 3 average, Gaussian sigma 2.5) follow the short MATLAB listing printed in the
    paper; they were not checked against the authors' released code.

    Args:
        img_bgr (np.ndarray): (H, W, 3) uint8 image in BGR order.
        width (int): Width of the small image the spectrum is computed on, >= 8. Defaults to 64.
        blur_sigma (float): Gaussian smoothing of the small map, pixels, >= 0 (0 = none).
            Defaults to 2.5.

    Returns:
        np.ndarray: (H, W) float32 saliency in [0, 1]; all zeros for a constant image.

    Raises:
        ValueError: ``img_bgr`` is not an (H, W, 3) uint8 array (shape and dtype named), or
            ``width < 8`` or ``blur_sigma < 0``.
    """
    img = _check_bgr_uint8(img_bgr, 'spectral_residual_saliency')
    if int(width) < 8:
        raise ValueError(f'spectral_residual_saliency: width must be >= 8, got {width}')
    if not np.isfinite(blur_sigma) or blur_sigma < 0:
        raise ValueError(f'spectral_residual_saliency: blur_sigma must be >= 0, got {blur_sigma}')
    h, w = img.shape[:2]
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64) / 255.0
    if float(grey.max()) - float(grey.min()) <= 1e-12:
        return np.zeros((h, w), np.float32)
    small_w = int(width)
    small_h = max(1, int(round(h * small_w / w)))
    small = cv2.resize(grey, (small_w, small_h), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-12)
    phase = np.angle(spectrum)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REPLICATE)
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase)))**2
    if blur_sigma > 0:
        sal = cv2.GaussianBlur(sal, (0, 0), float(blur_sigma))
    sal = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    return _min_max(sal)


def centre_prior(height: int,
                 width: int,
                 sigma: float = 0.25,
                 compute_dtype: Union[str, type, np.dtype] = np.float64) -> np.ndarray:
    """Centre-prior Gaussian map ``exp(-(x^2 + y^2) / (2 sigma^2))``.

    ``x = (col + 0.5) / width - 0.5`` and ``y = (row + 0.5) / height - 0.5`` are pixel-centre
    coordinates normalised by the image size (both in [-0.5, 0.5]), so the blob stretches with the
    aspect ratio: the standard deviation is ``sigma * width`` pixels along x and ``sigma * height``
    along y. With the default 0.25 about 27 % of the image lies above 0.5. A classical,
    image-independent saliency prior (objects tend to be near the centre); not part of any paper
    implemented here, and ``sigma`` is our choice.

    Args:
        height (int): Map height in pixels, >= 1.
        width (int): Map width in pixels, >= 1.
        sigma (float): Standard deviation as a fraction of the width / height, > 0.
            Defaults to 0.25.
        compute_dtype (str | type | np.dtype): Arithmetic precision; the result is float32 either
            way. ``float64`` computes as written above and rounds once. ``float32`` computes
            ``exp(-0.5 * (((row + 0.5 - height / 2) / (sigma * height))^2 + ...))`` in single
            precision, the values the former ``centre_prior_map`` of
            ``tools/analysis_tools/eval_pred_folder.py`` gave (they differ from ``float64`` by at
            most about 2e-7). Defaults to ``np.float64``.

    Returns:
        np.ndarray: (height, width) float32 in (0, 1]; exactly 1 at the centre pixel when both
        sides are odd.

    Raises:
        ValueError: a size below 1, a ``sigma`` that is not > 0 (also NaN), or a
            ``compute_dtype`` other than float64 / float32.
    """
    if height < 1 or width < 1 or not sigma > 0:
        raise ValueError(f'centre_prior: need height, width >= 1 and sigma > 0, got '
                         f'{height}, {width}, {sigma}')
    height, width, sigma = int(height), int(width), float(sigma)
    dtype = np.dtype(compute_dtype)
    if dtype == np.float64:
        y = (np.arange(height, dtype=np.float64) + 0.5) / height - 0.5
        x = (np.arange(width, dtype=np.float64) + 0.5) / width - 0.5
        dist2 = y[:, None]**2 + x[None, :]**2
        return np.exp(-dist2 / (2.0 * sigma * sigma)).astype(np.float32)
    if dtype == np.float32:
        y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / (sigma * height)
        x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / (sigma * width)
        return np.exp(-0.5 * (y[:, None]**2 + x[None, :]**2)).astype(np.float32)
    raise ValueError(f'centre_prior: compute_dtype must be float64 or float32, got {dtype}')
