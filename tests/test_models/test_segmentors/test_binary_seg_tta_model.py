"""BinarySegTTAModel: averaged probabilities (not a second sigmoid), seg_logits kept, metainfo."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.models.segmentors import BinarySegTTAModel

# 2 scales x 2 flips = 4 views; (w, h) scales, even so that the UNet's one downsampling fits.
# (mmcv's TestTimeAug builds its transforms in place: pass deep copies.)
TTA_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(32, 32), keep_ratio=False),
                dict(type='Resize', scale=(48, 40), keep_ratio=False)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadBinaryAnnotations')],
            [dict(type='PackBinarySegInputs')],
        ]),
]


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('tta')
    data_root = tiny.write_dataset(root / 'data', stems=('img_a', 'img_b'))
    cfg = Config.fromfile(tiny.write_config(root / 'tiny.py', data_root))
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='BinarySegDataset',
            data_root=data_root,
            data_prefix=dict(img_path='images', seg_map_path='masks'),
            img_suffix='.png',
            seg_map_suffix='.png',
            pipeline=copy.deepcopy(TTA_PIPELINE)))
    return dict(cfg=cfg, dataset=dataset, data_root=data_root, config=str(root / 'tiny.py'))


def _model(cfg, prob=None):
    """The tiny EncoderDecoder in eval mode; with ``prob`` it outputs that probability."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    if prob is not None:
        conv = model.decode_head.conv_seg
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.constant_(conv.bias, math.log(prob / (1 - prob)))
    return model.eval()


def _batch(dataset, indices=(0, 1)):
    return pseudo_collate([dataset[i] for i in indices])


def test_merged_probabilities_are_the_mean_of_the_views(project):
    model = _model(project['cfg'])
    tta = BinarySegTTAModel(module=model).eval()
    items = [project['dataset'][i] for i in (0, 1)]
    with torch.no_grad():
        merged = tta.test_step(pseudo_collate(copy.deepcopy(items)))
    assert len(merged) == 2
    for item, out in zip(items, merged):
        views = []
        flips = []
        for inputs, sample in zip(item['inputs'], item['data_samples']):
            with torch.no_grad():
                (res, ) = model.test_step(
                    dict(inputs=[inputs], data_samples=[copy.deepcopy(sample)]))
            views.append(res.seg_logits.data)
            flips.append(bool(sample.flip))
        assert len(views) == 4 and sorted(flips) == [False, False, True, True]
        # the views really differ (scale / flip), so averaging is not a no-op
        assert max(float((v - views[0]).abs().max()) for v in views[1:]) > 1e-4
        expected = torch.stack(views).mean(0)
        got = out.seg_logits.data
        assert got.shape == (1, tiny.IMG_H, tiny.IMG_W) == expected.shape
        assert torch.allclose(got, expected, atol=1e-6)
        assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0
        pred = out.pred_sem_seg.data
        assert pred.shape == got.shape and pred.dtype == torch.int64
        assert torch.equal(pred, (got > 0.5).long())
        # metainfo and ground truth of the first (unscaled, unflipped) view
        first = item['data_samples'][0]
        assert out.img_path == first.img_path and out.flip is False
        assert tuple(out.ori_shape) == (tiny.IMG_H, tiny.IMG_W)
        gt = torch.from_numpy((tiny.make_mask() > 128).astype(np.int64))[None]
        assert torch.equal(out.gt_sem_seg.data, gt)


def test_differs_from_mmseg_seg_tta_model(project):
    """Probability ~0.1 everywhere: no second sigmoid, so prediction 0 (mmseg: sigmoid(0.1) > 0.5
    -> 1 everywhere)."""
    model = _model(project['cfg'], prob=0.1)
    batch = _batch(project['dataset'])
    with torch.no_grad():
        ours = BinarySegTTAModel(module=model).test_step(copy.deepcopy(batch))
        theirs = SegTTAModel(module=model).test_step(copy.deepcopy(batch))
    for out in ours:
        assert torch.allclose(
            out.seg_logits.data, torch.full_like(out.seg_logits.data, 0.1), atol=1e-5)
        assert int(out.pred_sem_seg.data.sum()) == 0
    for out in theirs:
        assert bool((out.pred_sem_seg.data == 1).all())


def test_threshold_from_argument_and_head(project):
    model = _model(project['cfg'], prob=0.1)
    batch = _batch(project['dataset'], (0, ))
    tta = BinarySegTTAModel(module=model, threshold=0.05)
    assert tta.prob_threshold == 0.05
    with torch.no_grad():
        (out, ) = tta.test_step(copy.deepcopy(batch))
    assert bool((out.pred_sem_seg.data == 1).all())
    model.decode_head.threshold = 0.08  # no argument: the head's threshold
    tta = BinarySegTTAModel(module=model)
    assert tta.prob_threshold == pytest.approx(0.08)
    with torch.no_grad():
        (out, ) = tta.test_step(copy.deepcopy(batch))
    assert bool((out.pred_sem_seg.data == 1).all())
    with pytest.raises(ValueError, match='threshold'):
        BinarySegTTAModel(module=model, threshold=1.5)


class _NoHead(torch.nn.Module):
    """A module without decode_head (threshold falls back to 0.5)."""

    def test_step(self, data):  # pragma: no cover - merge_preds is called directly
        raise NotImplementedError


def _sample(data, path='x/img.png', **meta):
    s = SegDataSample(metainfo=dict(img_path=path, ori_shape=tuple(data.shape[-2:]), **meta))
    s.seg_logits = PixelData(data=data)
    return s


def test_merge_multi_class_softmax_average():
    tta = BinarySegTTAModel(module=_NoHead())
    a = torch.tensor([[[2.0, 0.0]], [[0.0, 0.0]], [[0.0, 3.0]]])  # (3, 1, 2) logits
    b = torch.tensor([[[0.0, 0.0]], [[4.0, 0.0]], [[0.0, 0.0]]])
    (out, ) = tta.merge_preds([[_sample(a, set_name='S'), _sample(b)]])
    expected = (a.softmax(0) + b.softmax(0)) / 2
    assert torch.allclose(out.seg_logits.data, expected)
    assert torch.allclose(out.seg_logits.data.sum(0), torch.ones(1, 2))
    assert out.pred_sem_seg.data.tolist() == [[[1, 2]]]
    assert out.set_name == 'S'


def test_merge_binary_default_threshold_and_errors():
    tta = BinarySegTTAModel(module=_NoHead())
    assert tta.prob_threshold == 0.5
    p1 = torch.tensor([[[0.2, 0.9, 0.5]]])
    p2 = torch.tensor([[[0.6, 0.3, 0.6]]])
    gt = PixelData(data=torch.tensor([[[0, 1, 1]]]))
    s1 = _sample(p1)
    s1.gt_sem_seg = gt
    (out, ) = tta.merge_preds([[s1, _sample(p2)]])
    assert torch.allclose(out.seg_logits.data, torch.tensor([[[0.4, 0.6, 0.55]]]))
    assert out.pred_sem_seg.data.tolist() == [[[0, 1, 1]]]
    assert out.gt_sem_seg is gt
    with pytest.raises(ValueError, match=r'x/odd\.png.*shapes'):
        tta.merge_preds([[_sample(p1, 'x/odd.png'), _sample(torch.zeros(1, 2, 3), 'x/odd.png')]])
    with pytest.raises(ValueError, match=r'x/raw\.png.*\[0, 1\]'):
        tta.merge_preds([[_sample(p1 * 5, 'x/raw.png')]])
    no_logits = SegDataSample(metainfo=dict(img_path='x/none.png'))
    with pytest.raises(ValueError, match=r'view 0 of x/none\.png has no seg_logits'):
        tta.merge_preds([[no_logits]])


def test_runner_tta_with_sod_metric(project, tmp_path):
    """Through mmengine's Runner as tools/test.py --tta sets it up: SODMetric gets seg_logits."""
    from mmengine.runner import Runner
    cfg = copy.deepcopy(project['cfg'])
    cfg.test_dataloader.dataset.pipeline = copy.deepcopy(TTA_PIPELINE)
    cfg.model = dict(type='BinarySegTTAModel', module=cfg.model)
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = tiny.unique_name('tta')
    cfg.default_hooks.pop('visualization')
    cfg.default_hooks.pop('checkpoint')
    cfg.test_evaluator = [dict(type='SODMetric', sod_metrics=['MAE'], normalize_pred=False)]
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    # MAE of the merged probability maps, recomputed with the runner's (TTA) model
    assert isinstance(runner.model, BinarySegTTAModel)
    dataset = project['dataset']
    with torch.no_grad():
        merged = runner.model.test_step(_batch(dataset))
    gt = torch.from_numpy((tiny.make_mask() > 128).astype(np.float32))[None]
    maes = [float((m.seg_logits.data - gt).abs().mean()) for m in merged]
    assert 0.0 < metrics['MAE'] < 1.0
    assert metrics['MAE'] == pytest.approx(float(np.mean(maes)), abs=3e-3)
