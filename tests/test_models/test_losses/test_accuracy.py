"""binary_accuracy: the acc_seg of dbdseg's 1-channel (sigmoid) heads."""
import pytest
import torch
from mmseg.models.losses import accuracy

from dbdseg.models.losses.accuracy import binary_accuracy


def test_thresholded_probability_against_the_label():
    label = torch.tensor([[[1, 1, 0, 255], [1, 0, 0, 1]]])  # (1, 2, 4): 7 valid pixels
    logits = torch.tensor([[[2.0, -1.0, -3.0, 5.0], [0.5, 0.1, -0.2, 4.0]]])
    # predictions (p > 0.5): 1 0 0 (ignored) / 1 1 0 1 -> correct 1, 0, 1, 1, 0, 1, 1 = 5 of 7
    assert binary_accuracy(logits, label).item() == pytest.approx(500 / 7)
    assert binary_accuracy(logits[:, None], label[:, None]).item() == pytest.approx(500 / 7)
    # the threshold is a probability: sigmoid(0.5) = 0.62, sigmoid(0.1) = 0.52
    assert binary_accuracy(logits, label, threshold=0.6).item() == pytest.approx(600 / 7)
    # soft targets (the A2S label bank): positive where > 0.5; negative values are ignored
    soft = torch.tensor([[[0.9, 0.7, 0.2, -1.0], [0.6, 0.4, 0.1, 1.0]]])
    assert binary_accuracy(logits, soft).item() == pytest.approx(500 / 7)
    assert binary_accuracy(logits, torch.full_like(label, 255)).item() == 0.0


def test_differs_from_mmseg_argmax_accuracy_on_one_channel():
    """mmseg's accuracy() takes the arg-max over one channel (always 0): the share of label-0
    pixels, whatever the logits. binary_accuracy scores the prediction."""
    label = torch.tensor([[[1, 1, 1, 0]]])
    logits = torch.full((1, 1, 1, 4), 4.0)  # predicts 1 everywhere
    assert accuracy(logits, label).item() == pytest.approx(25.0)
    assert binary_accuracy(logits, label).item() == pytest.approx(75.0)
    assert accuracy(-logits, label).item() == pytest.approx(25.0)  # blind to the logits
    assert binary_accuracy(-logits, label).item() == pytest.approx(25.0)


def test_errors():
    with pytest.raises(ValueError, match='1-channel'):
        binary_accuracy(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match='same size'):
        binary_accuracy(torch.zeros(1, 1, 3, 3), torch.zeros(1, 3, 4))
