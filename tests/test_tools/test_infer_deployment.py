"""tools/deployment/pytorch2onnx.py (issue 20 item 8) and demo/web_demo.py (item 9): argument
parsing and the glue; the algorithms are tested in tests/test_apis (test_onnx_export.py,
test_inference_demo.py)."""
import importlib.util
import os.path as osp
import sys

import cv2
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

REPO = tiny.REPO_ROOT


def _load(rel, name):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, rel))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def model_files(tiny_project, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp('deploy_ckpt') / 'tiny.pth'
    tiny.save_untrained_checkpoint(tiny_project['config'], ckpt)
    return tiny_project['config'], str(ckpt)


def test_pytorch2onnx_exports_and_checks(model_files, tmp_path, capsys):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    tool = _load('tools/deployment/pytorch2onnx.py', 'dbdseg_tool_pytorch2onnx')
    config, ckpt = model_files
    img = tmp_path / 'photo.png'
    cv2.imwrite(str(img), tiny.make_image(50, 70, seed=3))
    out = tmp_path / 'm.onnx'
    diff = tool.main(
        [config, ckpt, '--shape', '32', '32', '--out',
         str(out), '--check-image',
         str(img)])
    assert out.is_file() and 0.0 <= diff < 1e-5
    printed = capsys.readouterr().out
    assert 'max |difference|' in printed and 'photo.png' in printed
    before = out.read_bytes()
    with pytest.raises(SystemExit, match='--overwrite'):
        tool.main([config, ckpt, '--shape', '32', '32', '--out', str(out)])
    assert out.read_bytes() == before
    with pytest.raises(SystemExit, match='positive'):
        tool.main([config, ckpt, '--shape', '0', '32', '--out', str(tmp_path / 'z.onnx')])
    # default output: next to the checkpoint
    assert tool.parse_args([config, ckpt, '--shape', '8', '8']).out is None


def test_web_demo_wiring(model_files):
    """The page's two callbacks: a photo gives the probability (kept in the page state) and the
    three views; a slider redraws the views from the kept probability. (Gradio's import takes
    10-20 s on a loaded machine: one test.)"""
    pytest.importorskip('gradio')
    import numpy as np

    from dbdseg.apis import init_model
    from dbdseg.apis.inference_demo import predict_photo, render_views
    web_demo = _load('demo/web_demo.py', 'dbdseg_demo_web_demo')
    config, ckpt = model_files
    assert web_demo.parse_args([config, ckpt]).port == 7860
    model = init_model(config, ckpt)
    demo = web_demo.build_demo(model)
    fns = {f.fn.__name__: f for f in demo.fns.values()}
    photo_fn = fns['on_photo']
    assert [c.elem_id for c in photo_fn.inputs] == ['photo', 'threshold', 'alpha']
    assert [c.elem_id for c in photo_fn.outputs][1:] == ['map', 'overlay', 'mask']
    rgb = np.ascontiguousarray(tiny.make_image(30, 44, seed=9)[:, :, ::-1])
    prob, prob_map, overlay, mask = photo_fn.fn(rgb, 0.4, 0.5)
    np.testing.assert_array_equal(prob, predict_photo(model, rgb))
    views = render_views(rgb, prob, 0.4, 0.5)
    np.testing.assert_array_equal(overlay, views['overlay'])
    np.testing.assert_array_equal(mask, views['mask'])
    assert prob_map.shape == (30, 44, 3)
    redraw = fns['on_slider'].fn(rgb, prob, 0.9, 0.2)
    np.testing.assert_array_equal(redraw[2], render_views(rgb, prob, 0.9, 0.2)['mask'])
    assert photo_fn.fn(None, 0.5, 0.5) == (None, None, None, None)
