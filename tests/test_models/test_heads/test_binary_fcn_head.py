"""BinaryFCNHead: mmseg's FCNHead with a real acc_seg for one sigmoid channel."""
import torch
from mmengine.structures import PixelData
from mmseg.models.decode_heads import FCNHead
from mmseg.structures import SegDataSample

from dbdseg.models.decode_heads import BinaryFCNHead


def _head(cls):
    torch.manual_seed(0)
    return cls(
        in_channels=4,
        channels=4,
        num_convs=0,
        concat_input=False,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        dropout_ratio=0.0,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))


def test_binary_fcn_head_logs_thresholded_accuracy_and_keeps_fcn_loss():
    ours, theirs = _head(BinaryFCNHead), _head(FCNHead)
    ours.load_state_dict(theirs.state_dict())  # same keys: FCNHead checkpoints load
    logits = torch.tensor([[[[3.0, -3.0], [3.0, -3.0]]]])  # in-focus left column, blurred right
    label = torch.tensor([[[1, 1], [1, 255]]])  # 2 right of 3 counted pixels, one ignored
    sample = SegDataSample(gt_sem_seg=PixelData(data=label))
    got, ref = ours.loss_by_feat(logits, [sample]), theirs.loss_by_feat(logits, [sample])
    assert torch.equal(got['loss_ce'], ref['loss_ce'])
    assert abs(float(got['acc_seg']) - 200 / 3) < 1e-4
    # mmseg's arg-max over one channel counts label-0 pixels only: none here
    assert float(ref['acc_seg']) < 1e-3
