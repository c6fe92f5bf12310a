"""side_output_losses: the one loss helper and key scheme of deeply supervised heads."""
import pytest
import torch
import torch.nn as nn

from dbdseg.models.utils.side_output_losses import side_loss_key, side_output_losses


class _Scaled(nn.Module):
    """A loss module returning ``scale * mean(output)``."""

    def __init__(self, name, scale):
        super().__init__()
        self.loss_name = name
        self.scale = scale

    def forward(self, output):
        return self.scale * output.mean()


def _compute(fn, output):
    return fn(output)


def test_keys_weights_and_order():
    outs = [torch.full((1, 1, 2, 2), float(v)) for v in (1, 2, 3)]
    losses = side_output_losses(outs, [1.0, 0.0, 0.5], _Scaled('loss_a', 1.0), _compute)
    assert list(losses) == ['loss_a', 'loss_a_side2']  # weight 0: left out
    assert losses['loss_a'].item() == 1.0 and losses['loss_a_side2'].item() == 1.5
    fns = nn.ModuleList([_Scaled('loss_a', 1.0), _Scaled('loss_b', 2.0)])
    sides = side_output_losses(outs[1:], [1.0, 1.0], fns, _compute, first_index=1)
    assert list(sides) == ['loss_a_side1', 'loss_a_side2', 'loss_b_side1', 'loss_b_side2']
    assert sides['loss_b_side2'].item() == 6.0


def test_repeated_loss_names_are_summed():
    fns = nn.ModuleList([_Scaled('loss_a', 1.0), _Scaled('loss_a', 10.0)])
    losses = side_output_losses([torch.ones(1), torch.ones(1) * 2], [1.0, 2.0], fns, _compute)
    assert list(losses) == ['loss_a', 'loss_a_side1']
    assert losses['loss_a'].item() == 11.0 and losses['loss_a_side1'].item() == 44.0


def test_errors_and_key():
    assert side_loss_key('loss_ce', 0) == 'loss_ce'
    assert side_loss_key('loss_ce', 3) == 'loss_ce_side3'
    with pytest.raises(ValueError, match='>= 0'):
        side_loss_key('loss_ce', -1)
    with pytest.raises(ValueError, match='2 outputs but 1 weights'):
        side_output_losses([torch.ones(1)] * 2, [1.0], _Scaled('loss_a', 1.0), _compute)
