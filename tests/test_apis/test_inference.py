"""dbdseg.apis: init_model / inference_model / read_image on tiny images (CPU, no network)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dbdseg.apis import inference_model, init_model, list_images, read_image
from dbdseg.apis.inference import Teacher, TeacherError, _to_probability


@pytest.fixture(scope='module')
def model(tiny_model_files):
    return init_model(tiny_model_files['config'], tiny_model_files['checkpoint'], device='cpu')


def _write_exif_jpeg(path, rgb, orientation):
    """Save an RGB array as JPEG with the EXIF Orientation tag (0x0112)."""
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(str(path), exif=exif, quality=95)


def test_init_model_attributes(model, tiny_model_files):
    assert not model.training
    assert model.cfg.model.decode_head.out_channels == 1
    # dataset_meta comes from the checkpoint's meta
    assert tuple(model.dataset_meta['classes']) == ('blurred', 'in-focus')
    assert next(model.parameters()).device.type == 'cpu'


def test_init_model_loads_weights(model, tiny_model_files):
    ckpt = torch.load(tiny_model_files['checkpoint'], map_location='cpu')
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(model.state_dict()[key], value), key


def test_init_model_without_checkpoint_meta_from_dataset(tiny_model_files):
    m = init_model(tiny_model_files['config'], None)
    assert 'classes' in m.dataset_meta and len(m.dataset_meta['classes']) == 2
    m2 = init_model(tiny_model_files['config'], 'none')
    assert len(m2.dataset_meta['classes']) == 2


def test_init_model_missing_checkpoint_names_it(tiny_model_files, tmp_path):
    missing = str(tmp_path / 'nope' / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        init_model(tiny_model_files['config'], missing)


def test_init_model_missing_config_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='no_such_config.py'):
        init_model(str(tmp_path / 'no_such_config.py'))


def test_init_model_config_object_not_modified(tiny_model_files):
    from mmengine.config import Config
    cfg = Config.fromfile(tiny_model_files['config'])
    before = cfg.pretty_text
    init_model(cfg, None, cfg_options={'model.decode_head.threshold': 0.4})
    assert cfg.pretty_text == before


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-CUDA error')
def test_init_model_cuda_unavailable(tiny_model_files):
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        init_model(tiny_model_files['config'], None, device='cuda')


def test_inference_original_size_and_range(model, tmp_path):
    h, w = 29, 47  # non-square, not the 32x32 network size
    img = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    result = inference_model(model, img)
    prob = result.seg_logits.data
    assert prob.shape == (1, h, w)
    assert prob.dtype == torch.float32
    assert float(prob.min()) >= 0.0 and float(prob.max()) <= 1.0
    pred = result.pred_sem_seg.data
    assert pred.shape == (1, h, w)
    assert torch.equal(pred, (prob > 0.5).long())
    assert tuple(result.ori_shape) == (h, w)


def test_inference_path_equals_array(model, tmp_path):
    img = np.random.default_rng(2).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    path = str(tmp_path / 'photo.png')
    cv2.imwrite(path, img)
    from_path = inference_model(model, path)
    from_array = inference_model(model, img)
    assert from_path.img_path == path
    assert torch.allclose(from_path.seg_logits.data, from_array.seg_logits.data, atol=1e-6)


def test_inference_list_input(model):
    imgs = [np.full((10, 14, 3), 50, np.uint8), np.full((17, 9, 3), 200, np.uint8)]
    results = inference_model(model, imgs)
    assert isinstance(results, list) and len(results) == 2
    assert results[0].seg_logits.shape == (10, 14)
    assert results[1].seg_logits.shape == (17, 9)
    assert inference_model(model, []) == []


def test_inference_grey_and_bgra_arrays(model):
    assert inference_model(model, np.zeros((12, 16), np.uint8)).seg_logits.shape == (12, 16)
    assert inference_model(model, np.zeros((12, 16, 4), np.uint8)).seg_logits.shape == (12, 16)
    with pytest.raises(ValueError, match='shape'):
        inference_model(model, np.zeros((12, 16, 5), np.uint8))


def test_inference_threshold(model):
    img = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    res = inference_model(model, img, threshold=0.0)
    assert torch.equal(res.pred_sem_seg.data, (res.seg_logits.data > 0.0).long())


def test_inference_pipeline_cached(model):
    img = np.zeros((8, 8, 3), np.uint8)
    inference_model(model, img)
    pipes = model._dbdseg_inference_pipelines
    inference_model(model, img)
    assert model._dbdseg_inference_pipelines is pipes
    # annotation loaders removed, image loaders swapped for arrays
    names = [type(t).__name__ for t in pipes['rest'].transforms]
    assert not any('Annotation' in n for n in names)
    assert type(pipes['load_array'].transforms[0]).__name__ == 'LoadImageFromNDArray'


def test_inference_errors_name_the_file(model, tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        inference_model(model, str(bad))
    with pytest.raises(FileNotFoundError, match='absent.png'):
        inference_model(model, str(tmp_path / 'absent.png'))
    with pytest.raises(TypeError):
        inference_model(model, 3)


def test_opencv_applies_exif_orientation(tmp_path):
    """mmcv's cv2 backend (imdecode, IMREAD_COLOR) rotates by EXIF: what LoadImageFromFile uses."""
    import mmcv
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = 255  # left half white in stored orientation
    path = tmp_path / 'exif6.jpg'
    _write_exif_jpeg(path, rgb, orientation=6)  # 6 = rotate 90 degrees clockwise to display
    stored = np.asarray(Image.open(path))
    assert stored.shape[:2] == (20, 40)
    img = mmcv.imread(str(path))
    assert img.shape[:2] == (40, 20)
    # after a 90 degree clockwise rotation the white (stored left) half is on top
    assert img[:15].mean() > 200 and img[25:].mean() < 50
    assert read_image(path).shape[:2] == (40, 20)


def test_inference_exif_rotated_jpeg(model, tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, (18, 30, 3), dtype=np.uint8)
    path = tmp_path / 'rotated.jpg'
    _write_exif_jpeg(path, rgb, orientation=6)
    res = inference_model(model, str(path))
    assert res.seg_logits.shape == (30, 18)  # display orientation
    # same as running on the (orientation-corrected) array
    arr = read_image(path)
    assert torch.allclose(
        res.seg_logits.data, inference_model(model, arr).seg_logits.data, atol=1e-6)


def test_read_image_pillow_fallback_and_errors(tmp_path):
    # a grey 16-bit PNG is read as 3-channel uint8
    p16 = tmp_path / 'deep.png'
    cv2.imwrite(str(p16), np.full((5, 7), 40000, np.uint16))
    img = read_image(p16)
    assert img.shape == (5, 7, 3) and img.dtype == np.uint8
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        read_image(empty)
    with pytest.raises(FileNotFoundError, match='gone.png'):
        read_image(tmp_path / 'gone.png')


def test_list_images(tmp_path):
    folder = tmp_path / 'photos'
    folder.mkdir()
    for name in ('b.JPG', 'a.png', 'c.webp', 'notes.txt', 'd.tif'):
        (folder / name).write_bytes(b'x')
    (folder / 'sub').mkdir()
    extra = tmp_path / 'single.bmp'
    extra.write_bytes(b'x')
    found = list_images([str(folder), str(extra), str(folder / 'a.png')])
    assert [osp.basename(f) for f in found] == ['a.png', 'b.JPG', 'c.webp', 'd.tif', 'single.bmp']
    with pytest.raises(FileNotFoundError, match='missing_dir'):
        list_images([str(tmp_path / 'missing_dir')])


def test_two_channel_output_becomes_probability():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    logits = torch.tensor([[[0.0, 2.0]], [[0.0, -2.0]]])  # (2, 1, 2)
    s = SegDataSample()
    s.seg_logits = PixelData(data=logits)
    s = _to_probability(s, 0.5)
    expected = torch.softmax(logits, dim=0)[1:2]
    assert torch.allclose(s.seg_logits.data, expected)
    assert s.pred_sem_seg.data.tolist() == [[[0, 0]]]


def test_realtime_dbd_config_inference():
    """The shipped real-time DBD config (no weights): output at the original size."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    config = osp.join(repo, 'configs', 'realtime_dbd',
                      'realtime-dbd_gradunet_1xb64-bce-19k_cuhk-320x320.py')
    m = init_model(config, None)
    res = inference_model(m, np.random.default_rng(5).integers(0, 256, (40, 60, 3), np.uint8))
    assert res.seg_logits.shape == (40, 60)
    assert 0.0 <= float(res.seg_logits.data.min()) <= float(res.seg_logits.data.max()) <= 1.0


def test_demo_config_builds_and_predicts():
    """configs/demo (what tools/demo.sh trains): 3x3 head conv before the classifier, 192x192 input,
    probabilities at the original size."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    config = osp.join(repo, 'configs', 'demo',
                      'realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py')
    m = init_model(config, None)
    assert m.decode_head.num_convs == 1 and m.decode_head.convs[0].conv.kernel_size == (3, 3)
    assert m.cfg.train_cfg.max_iters == 1200
    res = inference_model(m, np.random.default_rng(6).integers(0, 256, (50, 70, 3), np.uint8))
    assert res.seg_logits.shape == (50, 70)


# ---------------------------------------------------------------------------- Teacher
def test_teacher_sigmoid_map_equals_inference_probability(model, tiny_model_files, tmp_path):
    """With ``activation='sigmoid'`` a teacher map is the probability inference_model computes
    (logits resized to the image size, then sigmoid); without it, the logit (sigmoid^-1)."""
    teacher = Teacher(
        tiny_model_files['config'], tiny_model_files['checkpoint'], activation='sigmoid')
    raw_teacher = Teacher(tiny_model_files['config'], tiny_model_files['checkpoint'])
    assert teacher.model_types == dict(
        segmentor='EncoderDecoder', backbone='UNet', decode_head='FCNHead')
    for i, (h, w) in enumerate([(20, 28), (26, 16)]):
        path = str(tmp_path / f'img{i}.png')
        cv2.imwrite(path, np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8))
        got = teacher.predict(path)
        assert got.shape == (h, w) and got.dtype == np.float64
        prob = inference_model(model, path).seg_logits.data[0].double().numpy()
        np.testing.assert_allclose(got, prob, atol=1e-6)
        logit = raw_teacher.predict(path)
        np.testing.assert_allclose(1.0 / (1.0 + np.exp(-logit)), prob, atol=1e-6)


def test_teacher_errors(tiny_model_files, tmp_path):
    with pytest.raises(FileNotFoundError, match='teacher checkpoint .*missing.pth'):
        Teacher(tiny_model_files['config'], str(tmp_path / 'missing.pth'))
    with pytest.raises(FileNotFoundError, match='teacher config .*nope.py'):
        Teacher(str(tmp_path / 'nope.py'), tiny_model_files['checkpoint'])
    with pytest.raises(ValueError, match='activation'):
        Teacher(tiny_model_files['config'], tiny_model_files['checkpoint'], activation='relu')
    teacher = Teacher(tiny_model_files['config'], tiny_model_files['checkpoint'], channel=1)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(IndexError, match=r'^channel 1 is out of range: the teacher outputs 1 '):
        teacher.predict(path)
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png'):
        teacher.predict(str(bad))
    with pytest.raises(FileNotFoundError, match='absent.png'):
        teacher.predict(str(tmp_path / 'absent.png'))
    assert issubclass(TeacherError, RuntimeError) and not issubclass(TeacherError, ValueError)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-CUDA error')
def test_teacher_cannot_be_built(tiny_model_files):
    with pytest.raises(TeacherError, match='cannot build the teacher: .*CUDA is not available'):
        Teacher(tiny_model_files['config'], tiny_model_files['checkpoint'], device='cuda')


# --------------------------------------------------------------------------------------------
# issue 17, item 5: a checkpoint that does not fit the model is an error, not a random model
# --------------------------------------------------------------------------------------------
def _variant(tiny_model_files, tmp_path, name, edit):
    ckpt = torch.load(tiny_model_files['checkpoint'], map_location='cpu')
    state = edit(dict(ckpt['state_dict']))
    path = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=state, meta=ckpt['meta']), path)
    return path


def _other_architecture(state):
    return dict(zip(['fc.weight', 'fc.bias'], [torch.zeros(3, 4), torch.zeros(3)]))


def _without_decode_head(state):
    return {k: v for k, v in state.items() if not k.startswith('decode_head.')}


def _as_ddp_without_bn_counters(state):
    return {'module.' + k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}


def _one_wrong_shape(state):
    state['decode_head.conv_seg.weight'] = torch.zeros(2, 4, 1, 1)
    return state


def test_init_model_refuses_a_checkpoint_of_another_architecture(tiny_model_files, tmp_path):
    from dbdseg.utils.checkpoint import CheckpointMismatchError
    path = _variant(tiny_model_files, tmp_path, 'other_arch', _other_architecture)
    with pytest.raises(CheckpointMismatchError) as e:
        init_model(tiny_model_files['config'], path)
    msg = str(e.value)
    assert path in msg
    # every missing key is counted by module; the first keys are listed
    assert 'missing' in msg and 'backbone' in msg and 'decode_head' in msg
    assert 'unexpected' in msg and 'fc.weight' in msg and 'fc.bias' in msg
    assert isinstance(e.value, RuntimeError)  # tools/infer.py reports RuntimeError as an error


def test_init_model_refuses_a_checkpoint_without_the_decode_head(tiny_model_files, tmp_path):
    from dbdseg.utils.checkpoint import CheckpointMismatchError
    path = _variant(tiny_model_files, tmp_path, 'no_head', _without_decode_head)
    with pytest.raises(CheckpointMismatchError, match='decode_head.conv_seg.bias'):
        init_model(tiny_model_files['config'], path)


def test_init_model_refuses_one_wrong_shape(tiny_model_files, tmp_path):
    from dbdseg.utils.checkpoint import CheckpointMismatchError
    path = _variant(tiny_model_files, tmp_path, 'wrong_shape', _one_wrong_shape)
    with pytest.raises(CheckpointMismatchError) as e:
        init_model(tiny_model_files['config'], path)
    msg = str(e.value)
    assert 'decode_head.conv_seg.weight' in msg and '(2, 4, 1, 1)' in msg and '(1, 4, 1, 1)' in msg


def test_init_model_accepts_module_prefix_and_missing_bn_counters(tiny_model_files, tmp_path):
    """What mmengine's loader tolerates on purpose stays accepted (DDP ``module.`` prefix, BN
    ``num_batches_tracked`` absent from old checkpoints)."""
    path = _variant(tiny_model_files, tmp_path, 'ddp', _as_ddp_without_bn_counters)
    m = init_model(tiny_model_files['config'], path)
    ref = torch.load(tiny_model_files['checkpoint'], map_location='cpu')['state_dict']
    for key, value in ref.items():
        assert torch.equal(m.state_dict()[key], value), key


#: an official checkpoint's first keys -> the converter to name
OFFICIAL_KEYS = [
    ('minet2dbdseg.py', ['div_2.0.weight', 'upconv32.conv.weight']),
    ('u2net2dbdseg.py', ['stage1.rebnconvin.conv_s1.weight', 'side1.weight']),
    ('a2s2dbdseg.py', ['encoder.conv1.weight', 'decoder.ad2.0.weight']),
    ('dd2dbdseg.py', ['pretrained_net.layer0.0.weight', 'deconv1.prev.weight']),
    ('mocov2_to_dbdseg.py', ['module.encoder_q.conv1.weight', 'module.queue']),
]


def test_init_model_names_the_converter_for_official_keys(tiny_model_files, tmp_path):
    from dbdseg.utils.checkpoint import CheckpointMismatchError
    for converter, keys in OFFICIAL_KEYS:
        path = str(tmp_path / f'{converter}.pth')
        torch.save(dict(state_dict={k: torch.zeros(1) for k in keys}), path)
        with pytest.raises(CheckpointMismatchError) as e:
            init_model(tiny_model_files['config'], path)
        assert f'tools/model_converters/{converter}' in str(e.value), converter
