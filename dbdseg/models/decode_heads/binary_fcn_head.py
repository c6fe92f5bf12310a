"""``BinaryFCNHead``: mmseg's ``FCNHead`` whose ``acc_seg`` is right for one output channel."""
from mmseg.models.decode_heads import FCNHead

from dbdseg.models.utils.binary_accuracy import BinaryAccuracyMixin
from dbdseg.registry import MODELS

__all__ = ['BinaryFCNHead']


@MODELS.register_module()
class BinaryFCNHead(BinaryAccuracyMixin, FCNHead):
    """mmseg's ``FCNHead`` (same arguments, layers and state-dict keys) for binary maps.

    With ``out_channels=1`` (a sigmoid head, as the real-time DBD model of Zhang & Yan 2020,
    Sec. 3.4, whose classifier is a 1x1 convolution on the full-resolution decoder feature),
    mmseg's ``acc_seg`` takes the arg-max over one channel and so reports the share of label-0
    pixels. This head logs instead the pixel accuracy of ``sigmoid(logit) > threshold`` against the
    label, in percent, ignored pixels (255) excluded (:class:`BinaryAccuracyMixin`). Losses and
    predictions are mmseg's, unchanged, so checkpoints of ``FCNHead`` load as they are.

    Args:
        **kwargs: the arguments of mmseg's ``FCNHead`` (``in_channels``, ``channels``,
            ``num_convs``, ``out_channels``, ``threshold``, ``loss_decode``, ...).
    """
