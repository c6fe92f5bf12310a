"""dbdseg.apis.inference_demo (issue 20 item 9): the web demo's logic, without a browser."""
import numpy as np
import pytest
from PIL import Image

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.apis import inference_model, init_model
from dbdseg.apis.inference_demo import positive_class_name, predict_photo, render_views


@pytest.fixture(scope='module')
def model(tiny_model_files):
    return init_model(tiny_model_files['config'], tiny_model_files['checkpoint'], device='cpu')


def test_predict_photo_takes_rgb(model):
    bgr = tiny.make_image(27, 41, seed=5)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    want = inference_model(model, bgr).seg_logits.data[0].numpy()
    got = predict_photo(model, rgb)
    assert got.shape == (27, 41) and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(predict_photo(model, Image.fromarray(rgb)), want)
    rgba = np.dstack([rgb, np.full((27, 41), 255, np.uint8)])
    np.testing.assert_array_equal(predict_photo(model, rgba), want)
    with pytest.raises(ValueError, match='upload'):
        predict_photo(model, None)
    assert positive_class_name(model) == 'in-focus'  # the tiny checkpoint's classes


def test_render_views():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # a red photo
    prob = np.tile(np.linspace(0, 1, 6, dtype=np.float32), (4, 1))
    views = render_views(rgb, prob, threshold=0.5, alpha=0.0)
    assert set(views) == {'map', 'overlay', 'mask'}
    for view in views.values():
        assert view.shape == (4, 6, 3) and view.dtype == np.uint8
    np.testing.assert_array_equal(views['map'][..., 0], np.rint(prob * 255).astype(np.uint8))
    assert (views['mask'][..., 0] == 255).tolist() == (prob > 0.5).tolist()
    # alpha 0: the photo itself (RGB kept), apart from the white outline of the mask
    outline = (views['overlay'] == 255).all(axis=2)
    np.testing.assert_array_equal(views['overlay'][~outline], rgb[~outline])
    # alpha 1: pure JET heat map, red where the probability is 1, blue where 0
    heat = render_views(rgb, prob, threshold=1.0, alpha=1.0)['overlay']
    assert heat[0, -1, 0] > 100 and heat[0, -1, 2] < 50
    assert heat[0, 0, 2] > 100 and heat[0, 0, 0] < 50
    with pytest.raises(ValueError, match='threshold'):
        render_views(rgb, prob, threshold=1.5)
    with pytest.raises(ValueError, match='differ in size'):
        render_views(rgb, prob[:, :5])


def test_positive_class_name_of_generic_datasets():

    class Stub:
        dataset_meta = dict(classes=('background', 'foreground'))

    assert positive_class_name(Stub()) == 'in-focus / salient'
    Stub.dataset_meta = dict(classes=('background', 'salient'))
    assert positive_class_name(Stub()) == 'salient'
    Stub.dataset_meta = None
    assert positive_class_name(Stub()) == 'in-focus / salient'
