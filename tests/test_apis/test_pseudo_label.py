"""dbdseg/apis/pseudo_label.py: cues, CRF output, restartability, skip_bad, workers, the stage-1
model at each image's own size, soft maps."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from dbdseg.apis import pseudo_label as pl
from dbdseg.apis.pseudo_label import PseudoLabelError, generate_pseudo_labels
from dbdseg.utils.saliency import centre_prior

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1 = osp.join(REPO, 'configs', 'a2s', 'a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py')
# ResNet-18 and no pretrained weights: small and offline
R18_DICT = {
    'model.backbone.depth': 18,
    'model.backbone.init_cfg': None,
    'model.decode_head.in_channels': [128, 256, 512]
}


def _scene(h=32, w=40, seed=0):
    """Dark textured background with a bright centred rectangle (rows 8:24, cols 10:30)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 40, np.int32) + rng.integers(-5, 6, (h, w, 3))
    img[8:24, 10:30] = (200, 220, 240)
    truth = np.zeros((h, w), bool)
    truth[8:24, 10:30] = True
    return np.clip(img, 0, 255).astype(np.uint8), truth


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for i, stem in enumerate(('img_a', 'img_b', 'img_c')):
        img, _ = _scene(seed=i)
        cv2.imwrite(str(folder / f'{stem}.png'), img)
    return folder


def _run(inputs, out, **kwargs):
    return generate_pseudo_labels(inputs, out, progress=False, **kwargs)


def _read(path):
    out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert out is not None, path
    return out


def test_centre_cue_crf_snaps_to_the_object(images, tmp_path):
    out = tmp_path / 'labels'
    res = _run(images, out, cue='centre', workers=0)
    assert sorted(osp.basename(p)
                  for p in res['written']) == ['img_a.png', 'img_b.png', 'img_c.png']
    _, truth = _scene()
    for name in ('img_a', 'img_b', 'img_c'):
        label = _read(out / f'{name}.png')
        assert label.shape == (32, 40) and label.dtype == np.uint8
        assert set(np.unique(label)) <= {0, 255}
        fg = label > 127
        iou = (fg & truth).sum() / (fg | truth).sum()
        assert iou > 0.85, iou
    # without the CRF the centre prior is an ellipse, not the rectangle
    res = _run(images, tmp_path / 'nocrf', cue='centre', crf=False)
    fg = _read(tmp_path / 'nocrf' / 'img_a.png') > 127
    ellipse = centre_prior(32, 40, 0.25) > 0.5
    assert np.mean(fg != ellipse) < 0.02
    assert (fg & truth).sum() / (fg | truth).sum() < 0.85


def test_centre_sigma_and_callable_cue(images, tmp_path):
    """``cue_cfg`` reaches the named cue; a function is a cue; a wrong-sized map is an error."""
    wide = _run(
        images / 'img_a.png',
        tmp_path / 'wide',
        cue='centre',
        crf=False,
        median_size=1,
        cue_cfg=dict(centre_sigma=0.5))
    assert len(wide['written']) == 1
    np.testing.assert_array_equal(
        _read(tmp_path / 'wide' / 'img_a.png'),
        np.where(centre_prior(32, 40, 0.5) > 0.5, 255, 0).astype(np.uint8))

    def left_half(img):
        prob = np.zeros(img.shape[:2], np.float32)
        prob[:, :img.shape[1] // 2] = 1.0
        return prob

    res = _run(images / 'img_a.png', tmp_path / 'fn', cue=left_half, crf=False, median_size=1)
    assert len(res['written']) == 1
    label = _read(tmp_path / 'fn' / 'img_a.png')
    assert (label[:, :20] == 255).all() and (label[:, 20:] == 0).all()
    with pytest.raises(PseudoLabelError, match=r'bad cue returned a map of shape \(4, 4\)'):

        def bad(img):
            return np.zeros((4, 4), np.float32)

        _run(images / 'img_a.png', tmp_path / 'bad', cue=bad, workers=0)


def test_workers_give_the_same_labels(images, tmp_path):
    _run(images, tmp_path / 'w0', cue='ft', workers=0)
    _run(images, tmp_path / 'w2', cue='ft', workers=2)
    for name in ('img_a', 'img_b', 'img_c'):
        assert np.array_equal(
            _read(tmp_path / 'w0' / f'{name}.png'), _read(tmp_path / 'w2' / f'{name}.png'))


def test_restartable(images, tmp_path, monkeypatch):
    out = tmp_path / 'labels'
    out.mkdir()
    # a finished label (marker content) and the partial temporary file of an interrupted atomic
    # write of img_c's label (dbdseg.utils.fileio names them .<name>.<random>.tmp)
    marker = np.full((32, 40), 77, np.uint8)
    cv2.imwrite(str(out / 'img_a.png'), marker)
    stat_a = os.stat(out / 'img_a.png')
    partial = out / '.img_c.png.k3j2h1.tmp'
    partial.write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00')  # truncated PNG
    (out / 'img_b.png.part').write_bytes(b'\x89PNG')

    # the CRF fails on the second image to do (img_c): img_b is finished, img_c has no file
    calls = []
    real = pl._crf_job

    def flaky(payload):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError('simulated crash')
        return real(payload)

    monkeypatch.setattr(pl, '_crf_job', flaky)
    with pytest.raises(PseudoLabelError, match=r'CRF failed on .*img_c\.png.*simulated crash'):
        _run(images, out, cue='centre', workers=0)
    assert (out / 'img_b.png').is_file() and not (out / 'img_c.png').exists()
    leftovers = {p.name for p in out.iterdir()}
    assert leftovers == {'img_a.png', 'img_b.png', '.img_c.png.k3j2h1.tmp', 'img_b.png.part'}
    stat_b = os.stat(out / 'img_b.png')
    monkeypatch.setattr(pl, '_crf_job', real)

    res = _run(images, out, cue='centre', workers=0)
    assert [osp.basename(p) for p in res['written']] == ['img_c.png']
    assert sorted(osp.basename(p) for p in res['finished']) == ['img_a.png', 'img_b.png']
    # finished files are not rewritten; the partial temp file was not taken for a label
    assert np.array_equal(_read(out / 'img_a.png'), marker)
    assert os.stat(out / 'img_a.png').st_mtime_ns == stat_a.st_mtime_ns
    assert os.stat(out / 'img_b.png').st_mtime_ns == stat_b.st_mtime_ns
    assert set(np.unique(_read(out / 'img_c.png'))) <= {0, 255}
    # nothing left to do
    res = _run(images, out, cue='centre')
    assert res['written'] == [] and len(res['finished']) == 3


def test_nothing_to_do_builds_no_cue(images, tmp_path):
    """With every output present the cue is never built (a missing config is not even read)."""
    out = tmp_path / 'labels'
    _run(images, out, cue='centre', crf=False)
    res = _run(images, out, cue='model', cue_cfg=dict(config=str(tmp_path / 'missing.py')))
    assert res['written'] == [] and len(res['finished']) == 3
    with pytest.raises(PseudoLabelError, match='config file not found: .*missing.py'):
        _run(
            images,
            tmp_path / 'other',
            cue='model',
            workers=0,
            cue_cfg=dict(config=str(tmp_path / 'missing.py')))


def test_soft_map_only_missing(images, tmp_path):
    """An image whose label exists but whose soft map does not gets only the soft map."""
    out, soft = tmp_path / 'labels', tmp_path / 'soft'
    _run(images, out, cue='centre', crf=False)
    stat = os.stat(out / 'img_a.png')
    res = _run(images, out, soft_dir=soft, cue='centre', crf=False)
    assert res['written'] == [] and res['finished'] == []
    assert os.stat(out / 'img_a.png').st_mtime_ns == stat.st_mtime_ns
    np.testing.assert_array_equal(
        _read(soft / 'img_a.png'),
        np.rint(centre_prior(32, 40) * 255.0).astype(np.uint8))


def test_skip_bad_lists_a_corrupt_image(images, tmp_path, capsys):
    (images / 'img_bad.png').write_bytes(b'not an image at all')
    out = tmp_path / 'labels'
    with pytest.raises(PseudoLabelError, match='img_bad.png'):
        _run(images, out, cue='centre', workers=0)
    # the labels before the bad file (sorted: img_a, img_b, img_bad) are kept
    assert sorted(p.name for p in out.iterdir()) == ['img_a.png', 'img_b.png']
    capsys.readouterr()
    res = _run(images, out, cue='centre', skip_bad=True, prog='gpl')
    assert [osp.basename(p) for p, _ in res['skipped']] == ['img_bad.png']
    assert [osp.basename(p) for p in res['written']] == ['img_c.png']
    captured = capsys.readouterr()
    printed = captured.out
    assert 'gpl: skipped 1 unreadable image(s)' in printed and 'img_bad.png' in printed
    assert 'gpl: warning: skipping ' in captured.err


def test_model_cue_at_own_resolution_with_soft_maps(images, tmp_path):
    from mmengine.config import Config

    from dbdseg.apis import inference_model, init_model

    # a stage-1 checkpoint with (random) ResNet-18 weights
    cfg = Config.fromfile(STAGE1)
    cfg.merge_from_dict(R18_DICT)
    torch.manual_seed(0)
    model = init_model(cfg, None)
    ckpt = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(ckpt))

    out, soft = tmp_path / 'labels', tmp_path / 'soft'
    cue_cfg = dict(config=STAGE1, checkpoint=str(ckpt), cfg_options=R18_DICT)
    res = _run([images / 'img_a.png', images / 'img_b.png'],
               out,
               soft_dir=soft,
               workers=0,
               unary='hard',
               cue_cfg=cue_cfg)
    assert len(res['written']) == 2
    img = cv2.imread(str(images / 'img_a.png'))
    # the soft map is the network's sigmoid(sign * theta) at the image's own 32 x 40 size
    own = Config.fromfile(STAGE1)
    own.merge_from_dict(R18_DICT)
    own.test_dataloader = None
    own.test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackBinarySegInputs')]
    m2 = init_model(own, str(ckpt))
    with torch.no_grad():
        prob = inference_model(m2, img).seg_logits.data[0].numpy()
    assert prob.shape == (32, 40)
    saved = _read(soft / 'img_a.png')
    assert saved.shape == (32, 40)
    assert np.abs(saved.astype(int) - np.round(prob * 255).astype(int)).max() <= 1
    assert (prob > 0.5).mean() <= 0.5 + 1e-6  # Eq. 5 at the fused resolution, ~ here
    label = _read(out / 'img_a.png')
    assert label.shape == (32, 40) and set(np.unique(label)) <= {0, 255}
    # max_size: the network sees a 16 x 20 copy; the map comes back at 32 x 40
    _run(
        images / 'img_a.png',
        tmp_path / 'l2',
        soft_dir=tmp_path / 's2',
        workers=0,
        cue_cfg=dict(cue_cfg, max_size=20))
    small = _read(tmp_path / 's2' / 'img_a.png')
    assert small.shape == (32, 40) and not np.array_equal(small, saved)
    with torch.no_grad():
        half = inference_model(m2, cv2.resize(img, (20, 16), interpolation=cv2.INTER_AREA))
    back = cv2.resize(half.seg_logits.data[0].numpy(), (40, 32), interpolation=cv2.INTER_LINEAR)
    assert np.abs(small.astype(int) - np.round(back * 255).astype(int)).max() <= 1
    # the label is CRF + median filter of the hard unary (0.7 / 0.3) of that soft map
    hard = pl.hard_unary(prob, 0.7)
    assert np.all(np.isclose(hard, 0.3) | np.isclose(hard, 0.7))
    from dbdseg.utils.crf import crf_pseudo_label
    expected = crf_pseudo_label(np.ascontiguousarray(img[:, :, ::-1]), hard, median_size=7)
    assert np.mean(expected != label) < 0.01


def test_input_errors(images, tmp_path):
    with pytest.raises(PseudoLabelError, match='same name'):
        other = tmp_path / 'other'
        other.mkdir()
        cv2.imwrite(str(other / 'img_a.png'), _scene()[0])
        _run([images, other], tmp_path / 'o', cue='centre')
    with pytest.raises(PseudoLabelError, match='overwrite the input'):
        _run(images, images, cue='centre')
    with pytest.raises(PseudoLabelError, match='input not found: .*nowhere'):
        _run(tmp_path / 'nowhere', tmp_path / 'o', cue='centre')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(PseudoLabelError, match='no images found'):
        _run(empty, tmp_path / 'o', cue='centre')
    with pytest.raises(ValueError, match='cue must be one of'):
        _run(images, tmp_path / 'o', cue='sharpness')
    with pytest.raises(ValueError, match='unary must be one of'):
        _run(images, tmp_path / 'o', cue='centre', unary='fuzzy')
    assert not (tmp_path / 'o').exists()  # nothing written by a failed call


def test_hard_unary_values():
    hard = pl.hard_unary(np.array([[0.2, 0.4], [0.6, 0.61]], np.float32), 0.7)
    # min-max stretched: 0, 0.49, 0.98, 1 -> > 0.5 for the last two
    np.testing.assert_allclose(hard, [[0.3, 0.3], [0.7, 0.7]], rtol=1e-6)
    assert np.all(pl.hard_unary(np.full((2, 2), 0.9, np.float32)) == np.float32(0.3))


def test_crf_pool():
    assert pl.make_crf_pool(0) is None
    pool = pl.make_crf_pool(1)
    try:
        img, truth = _scene()
        payload = (np.ascontiguousarray(img[:, :, ::-1]), centre_prior(32,
                                                                       40), 7, dict(iterations=10))
        np.testing.assert_array_equal(pool.apply(pl._crf_job, (payload, )), pl._crf_job(payload))
    finally:
        pool.terminate()
        pool.join()
