"""SSIM loss of the A2S stage-2 detector (L_S of Eq. 12).

Source: Zhou et al., "Activation to Saliency: Forming High-Quality Labels for Unsupervised Salient
Object Detection" (TCSVT 2023), Sec. III-B, Eq. 12 (``L_det = L_B + L_S + L_I``, "BCE, SSIM and IOU
losses", citing BASNet [61]). The paper names the loss only; the SSIM form and constants are
those of the reference code (github.com/moothes/A2S-USOD, methods/cornet/loss.py): an 11 x 11
Gaussian window with sigma 1.5 (normalised to sum 1), zero padding 5, applied per channel,
C1 = 0.01^2, C2 = 0.03^2, and the loss is the mean over pixels of ``1 - SSIM``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from dbdseg.models.utils.loss_inputs import BinaryMapLoss, binary_loss_inputs
from dbdseg.registry import MODELS

# ``binary_loss_inputs`` moved to :mod:`dbdseg.models.utils.loss_inputs`; re-exported here.
__all__ = ['SSIMLoss', 'gaussian_window', 'ssim_map', 'binary_loss_inputs']


def gaussian_window(window_size: int = 11,
                    sigma: float = 1.5,
                    dtype: torch.dtype = torch.float32,
                    device=None) -> Tensor:
    """Normalised 2-D Gaussian window (outer product of two 1-D Gaussians).

    Args:
        window_size (int): odd side length in pixels (>= 1). Defaults to 11 (the A2S reference
            code's).
        sigma (float): standard deviation in pixels (> 0). Defaults to 1.5.
        dtype, device: of the returned tensor.

    Returns:
        Tensor: (window_size, window_size), non-negative, sums to 1.

    Raises:
        ValueError: an even or non-positive ``window_size``, or ``sigma <= 0``.
    """
    if int(window_size) != window_size or window_size < 1 or window_size % 2 == 0:
        raise ValueError(f'window_size must be a positive odd integer, got {window_size!r}')
    if sigma <= 0:
        raise ValueError(f'sigma must be > 0, got {sigma!r}')
    coords = torch.arange(window_size, dtype=torch.float64) - window_size // 2
    g = torch.exp(-coords**2 / (2.0 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype=dtype, device=device)


def ssim_map(x: Tensor,
             y: Tensor,
             window_size: int = 11,
             sigma: float = 1.5,
             c1: float = 0.01**2,
             c2: float = 0.03**2) -> Tensor:
    """Per-pixel structural similarity of two maps (Wang et al. 2004, as A2S-USOD computes it).

    ``SSIM = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2
    + C2))`` with local means, variances and covariance taken under the Gaussian window, each
    channel separately (depthwise convolution), zero padding of ``window_size // 2`` (so the
    output has the input size; borders see zeros outside the map, as the reference does).

    Args:
        x, y (Tensor): (N, C, H, W) float maps of the same shape, values in [0, 1] (the
            constants C1, C2 assume a dynamic range of 1).
        window_size (int): Gaussian window side (odd). Defaults to 11.
        sigma (float): Gaussian standard deviation. Defaults to 1.5.
        c1, c2 (float): stabilising constants. Defaults to 0.01^2, 0.03^2.

    Returns:
        Tensor: (N, C, H, W) SSIM values, at most 1; exactly 1 where x and y are identical.

    Raises:
        ValueError: shapes differ or are not 4-D.
    """
    if x.dim() != 4 or x.shape != y.shape:
        raise ValueError(f'ssim_map expects two (N, C, H, W) maps of the same shape, got '
                         f'{tuple(x.shape)} and {tuple(y.shape)}')
    channels = x.shape[1]
    window = gaussian_window(window_size, sigma, x.dtype, x.device)
    window = window.expand(channels, 1, window_size, window_size).contiguous()
    pad = window_size // 2

    def blur(t):
        return F.conv2d(t, window, padding=pad, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = blur(x * x) - mu_xx
    var_y = blur(y * y) - mu_yy
    cov = blur(x * y) - mu_xy
    return ((2 * mu_xy + c1) * (2 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))


@MODELS.register_module()
class SSIMLoss(BinaryMapLoss):
    """Structural-similarity loss ``mean(1 - SSIM(p, t))`` (Zhou et al. 2023, Eq. 12, L_S).

    ``p = sigmoid(cls_score)`` and ``t`` the (soft or binary) target; SSIM per pixel by
    :func:`ssim_map`. Ignored pixels (``label == ignore_index`` or < 0, e.g. padding) are set to
    0 in both maps before the SSIM (so a window that overlaps them sees equal zeros there) and are
    left out of the mean. The mean is over the valid pixels of the whole batch (weighted by
    ``weight`` when given); a batch without valid pixels gives 0.

    Values: in [0, 2] in principle, 0 when p and t are identical, 1 - (2ab + C1) / (a^2 + b^2 +
    C1) away from the borders for constant maps p = a, t = b.

    Args:
        window_size (int): Gaussian window side (odd). Defaults to 11.
        sigma (float): Gaussian standard deviation in pixels. Defaults to 1.5.
        c1, c2 (float): SSIM constants. Defaults to 0.01^2, 0.03^2.
        use_sigmoid (bool): the scores are logits (True, mmseg's convention for 1-channel heads)
            or already probabilities (False). Defaults to True.
        loss_weight (float): multiplier. Defaults to 1.0 (Eq. 12 weights the three terms
            equally).
        loss_name (str): name in the loss dict, must start with ``loss_``. Defaults to
            'loss_ssim'.

    Raises:
        ValueError: an invalid argument; see also
            :func:`~dbdseg.models.utils.loss_inputs.binary_loss_inputs` for the inputs.
    """

    def __init__(self,
                 window_size: int = 11,
                 sigma: float = 1.5,
                 c1: float = 0.01**2,
                 c2: float = 0.03**2,
                 use_sigmoid: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ssim'):
        gaussian_window(window_size, sigma)  # validates
        super().__init__(use_sigmoid, loss_weight, loss_name)
        self.window_size = int(window_size)
        self.sigma = float(sigma)
        self.c1 = float(c1)
        self.c2 = float(c2)

    def loss_from_inputs(self, p: Tensor, t: Tensor, w: Tensor) -> Tensor:
        """Unweighted ``mean(1 - SSIM(p, t))`` over the valid pixels of the batch.

        Args:
            p, t, w (Tensor): (N, 1, H, W) probabilities, targets and pixel weights of
                :func:`~dbdseg.models.utils.loss_inputs.binary_loss_inputs` (per-pixel
                ``weight`` of ``forward``: (N, H, W)).

        Returns:
            Tensor: scalar; ``forward`` returns ``loss_weight`` times it.
        """
        loss_map = 1.0 - ssim_map(p, t, self.window_size, self.sigma, self.c1, self.c2)
        return (loss_map * w).sum() / w.sum().clamp(min=torch.finfo(w.dtype).tiny)
