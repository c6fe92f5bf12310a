"""dbdseg.apis.inference_model for real workloads (issue 20 item 10, issue 18 item 13): PIL images
and tensors as inputs, batches of mixed sizes, ``max_side`` and the depth side output."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.apis import inference_model, init_model
from dbdseg.apis.depth_output import depth_module
from dbdseg.apis.inference import max_side_size

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DD_CONFIG = osp.join(REPO, 'configs', 'depth_distillation', 'cpu_experiment',
                     'dd_r18_1xb8-300it_synthetic-defocus-160x160.py')


@pytest.fixture(scope='module')
def model(tiny_model_files):
    return init_model(tiny_model_files['config'], tiny_model_files['checkpoint'], device='cpu')


def _prob(result):
    return result.seg_logits.data[0].numpy()


def test_pil_and_tensor_inputs_equal_the_bgr_array(model):
    bgr = tiny.make_image(21, 33, seed=3)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    ref = _prob(inference_model(model, bgr))
    assert ref.shape == (21, 33)
    np.testing.assert_array_equal(_prob(inference_model(model, Image.fromarray(rgb))), ref)
    chw = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
    np.testing.assert_array_equal(_prob(inference_model(model, chw)), ref)
    as_float = chw.float() / 255  # float tensors are in [0, 1]
    np.testing.assert_allclose(_prob(inference_model(model, as_float)), ref, atol=1e-6)
    # an (N, 3, H, W) tensor is a batch: a list comes back, one result per image
    batch = inference_model(model, torch.stack([chw, chw.flip(-1)]))
    assert isinstance(batch, list) and len(batch) == 2
    np.testing.assert_allclose(_prob(batch[0]), ref, atol=1e-6)
    assert not np.allclose(_prob(batch[1]), ref)


def test_pil_exif_orientation_and_modes(model, tmp_path):
    rgb = np.ascontiguousarray(tiny.make_image(18, 30, seed=6)[:, :, ::-1])
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # shown rotated: 30 x 18
    im.save(str(tmp_path / 'r.jpg'), exif=exif, quality=95)
    with Image.open(tmp_path / 'r.jpg') as pil:
        res = inference_model(model, pil)
    assert res.seg_logits.shape == (30, 18)
    grey = inference_model(model, Image.fromarray(rgb[:, :, 0]))  # mode L
    assert grey.seg_logits.shape == (18, 30)


def test_bad_tensors_and_types_are_refused(model):
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        inference_model(model, torch.zeros(20, 30, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match='uint8'):
        inference_model(model, torch.zeros(3, 20, 30, dtype=torch.int32))
    with pytest.raises(TypeError, match='PIL image'):
        inference_model(model, 42)


def test_batches_of_mixed_sizes_equal_single_images(model):
    imgs = [
        tiny.make_image(h, w, seed=s)
        for s, (h, w) in enumerate([(20, 30), (41, 17), (20, 30), (33, 64)])
    ]
    singles = [_prob(inference_model(model, img, max_side=64)) for img in imgs]
    together = inference_model(model, imgs, max_side=64)
    for one, res in zip(singles, together):
        np.testing.assert_allclose(_prob(res), one, atol=1e-5)


@pytest.mark.parametrize(
    'hw,max_side,expected',
    [
        ((1200, 1600), 640, (480, 640)),
        ((1600, 1200), 640, (640, 480)),
        ((100, 150), 640, (96, 160)),  # never enlarged: only rounded to multiples of 32
        ((10, 2000), 512, (32, 512)),  # at least one divisor a side
        ((1080, 1920), 1000, (576, 992)),
    ])
def test_max_side_size(hw, max_side, expected):
    assert max_side_size(*hw, max_side) == expected
    assert all(side % 32 == 0 for side in expected)


def test_max_side_size_errors():
    with pytest.raises(ValueError, match='max_side'):
        max_side_size(100, 100, 16)
    with pytest.raises(ValueError, match='positive'):
        max_side_size(0, 100, 64)


def test_max_side_keeps_the_aspect_ratio_of_the_network_input(model):
    img = tiny.make_image(90, 160, seed=2)
    plain = inference_model(model, img)
    assert tuple(plain.metainfo['img_shape']) == (32, 32)  # the config's Resize
    big = inference_model(model, img, max_side=128)
    assert tuple(big.metainfo['img_shape']) == max_side_size(90, 160, 128) == (64, 128)
    assert big.seg_logits.shape == (90, 160)  # still the original size
    assert not np.allclose(_prob(big), _prob(plain))


def test_depth_output_of_a_model_without_one_is_refused(model):
    assert depth_module(model) is None
    with pytest.raises(ValueError, match='no depth output'):
        inference_model(model, tiny.make_image(16, 16), with_depth=True)


@pytest.fixture(scope='module')
def dd_model():
    torch.manual_seed(0)
    return init_model(
        DD_CONFIG,
        None,
        cfg_options={
            'model.backbone.base_channels': 8,
            'model.backbone.stem_channels': 8,
            'model.decode_head.in_channels': (8, 8, 16, 32, 64)
        })


def test_depth_output_equals_the_fused_depth_of_the_head(dd_model):
    """``pred_depth`` is SABHead's fused depth (``depth_fusion``) brought to the original size
    as mmseg brings the defocus logits: bilinear to the network input, then to the image."""
    import torch.nn.functional as F
    m = dd_model
    assert depth_module(m) is m.decode_head.depth_fusion
    img = tiny.make_image(45, 70, seed=4)
    res = inference_model(m, img, with_depth=True)
    assert res.pred_depth.data.shape == (1, 45, 70)
    # by hand: preprocess, features, the head's fused depth
    from dbdseg.apis.inference import _pipelines
    pipes = _pipelines(m)
    packed = pipes['rest'](pipes['load_array'](dict(img=img)))
    with torch.no_grad():
        data = m.data_preprocessor(
            dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
        depth = m.decode_head._forward_all(m.extract_feat(data['inputs']))['fused_depth']
    depth = F.interpolate(depth, size=data['inputs'].shape[-2:], mode='bilinear')
    depth = F.interpolate(depth, size=(45, 70), mode='bilinear')
    torch.testing.assert_close(res.pred_depth.data[None], depth, atol=1e-5, rtol=1e-5)
    # the defocus probability is unchanged by asking for depth
    plain = inference_model(m, img)
    torch.testing.assert_close(res.seg_logits.data, plain.seg_logits.data)
