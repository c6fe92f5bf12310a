"""IoU loss of the A2S stage-2 detector (L_I of Eq. 12).

Source: Zhou et al. (TCSVT 2023), Sec. III-B, Eq. 12 ("BCE, SSIM and IOU losses", citing BASNet
[61]). The paper names the loss only; the form is that of the reference code
(github.com/moothes/A2S-USOD, methods/cornet/loss.py): per image
``1 - sum(p t) / (sum(p + t - p t) + 1e-7)``, averaged over the images of the batch.
"""
from torch import Tensor

from dbdseg.models.utils.loss_inputs import BinaryMapLoss
from dbdseg.registry import MODELS

__all__ = ['IoULoss']


@MODELS.register_module()
class IoULoss(BinaryMapLoss):
    """Soft (differentiable) IoU loss per image, averaged over the batch (A2S Eq. 12, L_I).

    For each image n, over its valid pixels (``label != ignore_index`` and >= 0)::

        IoU_n = (sum(p t) + smooth) / (sum(p + t - p t) + smooth + eps),   loss = mean_n(1 - IoU_n)

    with ``p = sigmoid(cls_score)`` and ``t`` the binary or soft target in [0, 1].
    The reference (A2S-USOD methods/cornet/loss.py) uses ``smooth = 0`` and ``eps = 1e-7``; then
    an image whose target and prediction are both empty scores IoU 0 (loss 1), which
    ``smooth > 0`` (e.g. 1, the Dice/IoU "Laplace" smoothing) changes to loss 0. Not in the
    paper: the paper names the loss only; ``smooth`` is kept as a field, default 0 as the
    reference (configs/a2s/README.md, "IoU of two empty maps").

    Values: in [0, 1]; ~0 for identical binary non-empty maps; 1 for disjoint maps. Note that
    identical *soft* maps do not give 0 (e.g. p = t = 0.5 everywhere: IoU = 1/3).

    Args:
        eps (float): added to the denominator (>= 0). Defaults to 1e-7.
        smooth (float): added to numerator and denominator (>= 0). Defaults to 0.
        use_sigmoid (bool): the scores are logits (True) or probabilities (False). Defaults to
            True.
        loss_weight (float): multiplier. Defaults to 1.0.
        loss_name (str): name in the loss dict (``loss_`` prefix). Defaults to 'loss_iou'.

    Raises:
        ValueError: negative ``eps``/``smooth``, a bad ``loss_name``; see
            :func:`~dbdseg.models.utils.loss_inputs.binary_loss_inputs` for the inputs.
    """

    def __init__(self,
                 eps: float = 1e-7,
                 smooth: float = 0.0,
                 use_sigmoid: bool = True,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_iou'):
        if eps < 0 or smooth < 0:
            raise ValueError(f'eps and smooth must be >= 0, got eps={eps}, smooth={smooth}')
        super().__init__(use_sigmoid, loss_weight, loss_name)
        self.eps = float(eps)
        self.smooth = float(smooth)

    def loss_from_inputs(self, p: Tensor, t: Tensor, w: Tensor) -> Tensor:
        """Unweighted ``mean_n(1 - IoU_n)``.

        Args:
            p, t, w (Tensor): (N, 1, H, W) probabilities, targets and pixel weights of
                :func:`~dbdseg.models.utils.loss_inputs.binary_loss_inputs`; the weights
                (``forward``'s per-pixel ``weight`` (N, H, W), 0 where ignored) multiply each
                pixel's terms in both sums.

        Returns:
            Tensor: scalar; ``forward`` returns ``loss_weight * mean_n(1 - IoU_n)``.
        """
        inter = (p * t * w).flatten(1).sum(1)
        union = ((p + t - p * t) * w).flatten(1).sum(1)
        iou = (inter + self.smooth) / (union + self.smooth + self.eps)
        return (1.0 - iou).mean()
