"""dbdseg.apis.depth_output: the 16-bit depth writer, the depth post-processing and capture."""
import cv2
import numpy as np
import pytest
import torch

from dbdseg.apis.depth_output import capture_depth, depth_module, depth_to_original, write_depth_png


def test_write_depth_png_scale_clip_and_round_trip(tmp_path):
    depth = np.array([[0.0, 0.5, 1.0], [1.2, -0.1, 0.25]], np.float32)
    path = str(tmp_path / 'sub' / 'd.png')
    assert write_depth_png(path, depth) == path
    saved = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint16 and saved.shape == (2, 3)
    assert saved.tolist() == [[0, 32768, 65535], [65535, 0, 16384]]
    # what the depth-target loader reads back: value / 65535
    from dbdseg.datasets.transforms.loading import map_to_float
    np.testing.assert_allclose(map_to_float(saved, path), np.clip(depth, 0, 1), atol=1 / 65535)
    # a tensor of shape (1, H, W) is one map too
    write_depth_png(str(tmp_path / 't.png'), torch.full((1, 4, 5), 0.5))
    assert cv2.imread(str(tmp_path / 't.png'), cv2.IMREAD_UNCHANGED).shape == (4, 5)


def test_write_depth_png_errors(tmp_path):
    with pytest.raises(ValueError, match='NaN'):
        write_depth_png(str(tmp_path / 'n.png'), np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r'shape \(2, 2, 2\)'):
        write_depth_png(str(tmp_path / 's.png'), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match='not a .png'):
        write_depth_png(str(tmp_path / 'd.jpg'), np.zeros((2, 2)))
    assert not list(tmp_path.iterdir())


def test_depth_to_original_removes_padding_and_undoes_the_flip():
    depth = torch.arange(35, dtype=torch.float32).reshape(1, 5, 7)
    meta = dict(pad_shape=(5, 7), padding_size=[1, 2, 0, 1], ori_shape=(4, 4))
    out = depth_to_original(depth, meta)
    np.testing.assert_array_equal(out, depth[0, 0:4, 1:5].numpy())
    out = depth_to_original(depth, dict(meta, flip=True, flip_direction='horizontal'))
    np.testing.assert_array_equal(out, depth[0, 0:4, 1:5].numpy()[:, ::-1])
    out = depth_to_original(depth, dict(meta, flip=True, flip_direction='vertical'))
    np.testing.assert_array_equal(out, depth[0, 0:4, 1:5].numpy()[::-1])
    # resizing: a constant map stays constant at the original size
    out = depth_to_original(torch.full((1, 3, 3), 0.25), dict(pad_shape=(8, 8), ori_shape=(5, 9)))
    assert out.shape == (5, 9) and np.allclose(out, 0.25)


def test_capture_depth_records_the_fused_depth_and_unhooks():

    class Head(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.depth_fusion = torch.nn.Conv2d(2, 1, 1)

    class Model(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.decode_head = Head()

        def forward(self, x):
            return self.decode_head.depth_fusion(x)

    model = Model()
    assert depth_module(model) is model.decode_head.depth_fusion
    x = torch.randn(2, 2, 3, 4)
    with capture_depth(model) as depths:
        expected = model(x)
    assert len(depths) == 1 and torch.equal(depths[0], expected.detach())
    model(x)
    assert len(depths) == 1  # the hook is gone after the block
    assert depth_module(torch.nn.Conv2d(1, 1, 1)) is None
    with pytest.raises(ValueError, match='no depth output'):
        with capture_depth(torch.nn.Conv2d(1, 1, 1)):
            pass
