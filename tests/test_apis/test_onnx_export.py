"""dbdseg.apis.onnx_export (issue 20 item 8): the exported graph maps a resized BGR image to the
probability map that PyTorch computes, sigmoid included; onnxruntime agrees with PyTorch.

One dynamic export of a narrow real-time DBD network (GradientUNet, configs/demo) serves every test:
PyTorch's dynamo exporter takes about 15 s the first time in a process."""
import os.path as osp

import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.apis import inference_model, init_model

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo',
                'realtime-dbd_gradunet-demo_1xb8-cpu_synthetic-defocus-192x192.py')
NARROW = {
    'model.backbone.widths': (4, 8, 8),
    'model.backbone.decoder_widths': (8, 4),
    'model.backbone.fuse_channels': 8,
    'model.decode_head.in_channels': 4,
    'model.decode_head.channels': 4
}


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(DEMO, None, cfg_options=NARROW)


@pytest.fixture(scope='module')
def exported(model, tmp_path_factory):
    from dbdseg.apis.onnx_export import export_onnx
    path = str(tmp_path_factory.mktemp('onnx') / 'rt.onnx')
    return export_onnx(model, path, (32, 32), dynamic=True, size_divisor=4)


def test_onnx_equals_the_pytorch_inference_map(model, exported):
    """On an image of the config's input size (192 x 192: its Resize is then the identity) the
    ONNX probability equals inference_model's: BGR -> RGB, normalisation, the network, the
    resize of the logits and the sigmoid are all in the graph."""
    from dbdseg.apis.onnx_export import run_onnx
    img = tiny.make_image(192, 192, seed=11)
    got = run_onnx(exported, img)
    assert got.shape == (1, 1, 192, 192) and got.dtype == np.float32
    assert 0.0 <= got.min() and got.max() <= 1.0
    want = inference_model(model, img).seg_logits.data.numpy()
    assert np.abs(got[0] - want).max() < 1e-5
    # the channel order matters: RGB input would give another map
    swapped = inference_model(model, np.ascontiguousarray(img[:, :, ::-1])).seg_logits.data
    assert np.abs(got[0] - swapped.numpy()).max() > 1e-4


def test_dynamic_sizes_and_batches(model, exported):
    from dbdseg.apis.onnx_export import ProbabilityGraph, check_onnx, run_onnx
    img = tiny.make_image(36, 52, seed=12)
    assert check_onnx(exported, model, img) < 1e-5
    batch = np.stack([img, img[::-1]]).transpose(0, 3, 1, 2).astype(np.float32)
    got = run_onnx(exported, batch)
    with torch.no_grad():
        want = ProbabilityGraph(model).eval()(torch.from_numpy(batch)).numpy()
    assert got.shape == (2, 1, 36, 52)
    assert np.abs(got - want).max() < 1e-5


def test_metadata_and_errors(model, exported, tmp_path):
    import onnx

    from dbdseg.apis.onnx_export import export_onnx
    proto = onnx.load(exported)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta['export_shape'] == '32x32' and meta['bgr_to_rgb'] == 'True'
    assert meta['mean'] == '123.675,116.28,103.53'
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    with pytest.raises(ValueError, match='positive'):
        export_onnx(model, str(tmp_path / 'x.onnx'), (0, 32))
    with pytest.raises(ValueError, match='multiple of size_divisor'):
        export_onnx(model, str(tmp_path / 'x.onnx'), (30, 32), dynamic=True)
    assert not list(tmp_path.iterdir())
