"""BinarySegLocalVisualizer: image | gt | heat map | prediction panels; fallback for multi-class."""
import glob
import os.path as osp
import types
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from dbdseg.visualization import BinarySegLocalVisualizer
from dbdseg.visualization.local_visualizer import (default_title_height, mask_panel,
                                                   positive_class_name, tint_mask)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W, T = 32, 40, 10  # image size, title strip height
TINT = (255, 40, 40)


def _name():
    return f'vis_{uuid.uuid4().hex[:8]}'


def _image(seed=0):
    """(H, W, 3) uint8 RGB image with values in [60, 200) (so tints and dimming are visible)."""
    return np.random.default_rng(seed).integers(60, 200, size=(H, W, 3), dtype=np.uint8)


def _gt():
    gt = np.zeros((1, H, W), np.int64)
    gt[:, :, :16] = 1
    return gt


def _binary_sample(with_gt=True):
    prob = np.zeros((1, H, W), np.float32)
    prob[:, :, :W // 2] = 1.0
    s = SegDataSample()
    s.seg_logits = PixelData(data=torch.from_numpy(prob))
    if with_gt:
        s.gt_sem_seg = PixelData(data=torch.from_numpy(_gt()))
    return s


def _read_rgb(path):
    img = cv2.imread(str(path))
    assert img is not None, path
    return img[..., ::-1].astype(np.int32)


def _panel(picture, k):
    return picture[T:, k * W:(k + 1) * W]


def test_binary_panels(tmp_path):
    vis = BinarySegLocalVisualizer(name=_name(), title_height=T, classes=('blurred', 'in-focus'))
    img = _image()
    out = tmp_path / 'sub' / 'a.png'
    vis.add_datasample('a', img, _binary_sample(), out_file=str(out))
    pic = _read_rgb(out)
    assert pic.shape == (H + T, 4 * W, 3)
    assert np.array_equal(vis.get_image(), pic.astype(np.uint8))
    # image panel is the image; each title strip is the dark background with some bright text
    assert np.array_equal(_panel(pic, 0), img)
    for k in range(4):
        strip = pic[:T, k * W:(k + 1) * W]
        assert (strip == 40).all(axis=-1).mean() > 0.25 and strip.max() > 150, k
    # ground truth: label 0 exactly the image, label-1 interior tinted half-way to TINT
    gt_panel = _panel(pic, 1)
    assert np.array_equal(gt_panel[:, 17:], img[:, 17:])
    tinted = np.round(0.5 * img[1:-1, 1:15] + 0.5 * np.array(TINT)).astype(np.int32)
    assert np.abs(gt_panel[1:-1, 1:15] - tinted).max() <= 1
    # heat map (jet): probability 1 -> red, 0 -> blue
    heat = _panel(pic, 2)
    left, right = heat[:, :W // 2].reshape(-1, 3), heat[:, W // 2:].reshape(-1, 3)
    assert (left[:, 0] > 100).all() and (left[:, 2] < 30).all()
    assert (right[:, 2] > 100).all() and (right[:, 0] < 30).all()
    # prediction (no pred_sem_seg: seg_logits > 0.5): left half tinted, right half the image
    pred = _panel(pic, 3)
    assert np.array_equal(pred[:, W // 2:], img[:, W // 2:])
    assert (pred[1:-1, 1:W // 2 - 1, 0] > img[1:-1, 1:W // 2 - 1, 0]).all()


def test_pred_sem_seg_is_drawn_and_no_ground_truth(tmp_path):
    vis = BinarySegLocalVisualizer(name=_name(), title_height=T)
    img = _image(1)
    s = _binary_sample(with_gt=False)
    pred = np.zeros((1, H, W), np.int64)
    pred[:, :8] = 1  # top rows, unlike the seg_logits
    s.pred_sem_seg = PixelData(data=torch.from_numpy(pred))
    out = tmp_path / 'b.png'
    vis.add_datasample('b', img, s, out_file=str(out))
    pic = _read_rgb(out)
    assert pic.shape == (H + T, 4 * W, 3)
    no_gt = _panel(pic, 1)
    # dimmed image (30 %) except for the 'no ground truth' text
    assert np.median(no_gt) < 0.35 * np.median(img)
    drawn = _panel(pic, 3)
    assert np.array_equal(drawn[8:], img[8:])
    assert (drawn[1:7, 1:-1, 0] > img[1:7, 1:-1, 0]).all()
    # draw_gt / draw_pred / with_labels change the layout
    vis.add_datasample('c', img, s, draw_gt=False, out_file=str(tmp_path / 'c.png'))
    assert _read_rgb(tmp_path / 'c.png').shape == (H + T, 3 * W, 3)
    vis.add_datasample(
        'd', img, s, draw_pred=False, with_labels=False, out_file=str(tmp_path / 'd.png'))
    assert _read_rgb(tmp_path / 'd.png').shape == (H, 2 * W, 3)


def test_saves_through_vis_backends(tmp_path):
    vis = VISUALIZERS.build(
        dict(
            type='BinarySegLocalVisualizer',
            name=_name(),
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path),
            title_height=T))
    vis.add_datasample('val_img.png', _image(), _binary_sample(), step=3)
    files = glob.glob(str(tmp_path / 'vis_data' / 'vis_image' / '*.png'))
    assert [osp.basename(f) for f in files] == ['val_img.png_3.png']
    assert _read_rgb(files[0]).shape == (H + T, 4 * W, 3)


def test_multi_class_falls_back_to_parent(tmp_path):
    meta = dict(classes=('a', 'b', 'c'), palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    ours = BinarySegLocalVisualizer(name=_name(), **meta)
    parent = SegLocalVisualizer(name=_name(), alpha=0.5)  # our default alpha
    parent.dataset_meta = dict(meta)
    img = _image(2)
    labels = torch.from_numpy(np.random.default_rng(3).integers(0, 3, (1, H, W)))
    for with_logits in (True, False):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=labels)
        s.pred_sem_seg = PixelData(data=labels.flip(-1))
        if with_logits:
            s.seg_logits = PixelData(data=torch.randn(3, H, W))
        ours.add_datasample('m', img, s, out_file=str(tmp_path / 'ours.png'))
        parent.add_datasample('m', img, s, out_file=str(tmp_path / 'parent.png'))
        a, b = _read_rgb(tmp_path / 'ours.png'), _read_rgb(tmp_path / 'parent.png')
        assert a.shape == (H, 2 * W, 3)  # mmseg's gt | pred
        assert np.array_equal(a, b)


def test_segvisualizationhook_uses_it(tmp_path):
    """The path of tools/test.py --show-dir: the hook reads the image file and calls us."""
    img = _image(4)
    img_path = tmp_path / 'photo.png'
    cv2.imwrite(str(img_path), img[..., ::-1])
    vis = BinarySegLocalVisualizer.get_instance(
        _name(),
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'show'),
        title_height=T)
    hook = SegVisualizationHook(draw=True, interval=1)
    assert hook._visualizer is vis
    s = _binary_sample()
    s.set_metainfo(dict(img_path=str(img_path)))
    hook.after_test_iter(types.SimpleNamespace(iter=0), 0, {}, [s])
    pic = _read_rgb(tmp_path / 'show' / 'vis_data' / 'vis_image' / 'test_photo.png_0.png')
    assert pic.shape == (H + T, 4 * W, 3)
    assert np.array_equal(_panel(pic, 0), img)


def test_default_runtime_config_builds_it():
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'default_runtime.py'))
    assert cfg.visualizer.type == 'BinarySegLocalVisualizer'
    assert cfg.tta_model.type == 'BinarySegTTAModel'
    vis_cfg = dict(cfg.visualizer, name=_name())
    vis = VISUALIZERS.build(vis_cfg)
    assert isinstance(vis, BinarySegLocalVisualizer)
    assert vis.dataset_meta['classes'] == ('background', 'foreground')


def test_helpers_and_errors():
    assert positive_class_name(dict(classes=('blurred', 'in-focus'))) == 'in-focus'
    assert positive_class_name(dict(classes=('a', 'b', 'c'))) == 'label 1'
    assert positive_class_name(None) == 'label 1'
    assert default_title_height(10) == 16 and default_title_height(5000) == 40
    img = np.full((6, 8, 3), 100, np.uint8)
    mask = np.zeros((6, 8), np.int64)
    mask[2:5, 2:6] = 1
    mask[0, 0] = 255
    out = tint_mask(img, mask, color=(200, 0, 0), alpha=0.5)
    assert out[0, 0].tolist() == [128, 128, 128]
    assert out[3, 3].tolist() == [150, 50, 50]  # interior: tinted
    assert out[2, 2].tolist() == [200, 0, 0]  # border of the region: contour
    assert (out[mask == 0][1:] == 100).all()
    panel = mask_panel(torch.from_numpy(mask)[None])
    assert panel[3, 3].tolist() == [255] * 3 and panel[0, 0].tolist() == [128] * 3
    assert panel[0, 1].tolist() == [0] * 3
    with pytest.raises(ValueError, match='alpha'):
        BinarySegLocalVisualizer(name=_name(), alpha=1.5)
    with pytest.raises(ValueError, match='palette'):
        BinarySegLocalVisualizer(name=_name(), classes=('a', 'b', 'c'))
    with pytest.raises(ValueError, match='1-channel'):
        BinarySegLocalVisualizer(name=_name()).draw_binary_panels(_image(), SegDataSample())
