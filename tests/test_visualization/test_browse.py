"""dbdseg.visualization.browse: one sample's arrays and picture, set names of wrappers."""
import types

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from dbdseg.visualization.browse import (draw_sample, member_names, member_of, sample_arrays,
                                         write_dataset_pictures)


def test_draw_sample_ignore_grey():
    img = np.full((8, 10, 3), 90, np.uint8)
    mask = np.zeros((8, 10), np.int64)
    mask[:, 5:] = 1
    mask[0] = 255
    pic = draw_sample(img, mask, ('blurred', 'in-focus'), title_height=6)
    assert pic.shape == (14, 30, 3)
    assert pic[6, 12].tolist() == [128, 128, 128]  # ignore row in the mask panel
    assert pic[9, 12].tolist() == [0, 0, 0] and pic[9, 17].tolist() == [255, 255, 255]
    assert pic[6, 22].tolist() == [128, 128, 128]  # and in the overlay
    assert np.array_equal(pic[6:, :10], img)  # the image panel is the image


def test_draw_sample_without_mask_and_resized_mask():
    img = np.full((8, 10, 3), 90, np.uint8)
    assert draw_sample(img, None, title_height=6).shape == (14, 10, 3)
    mask = np.zeros((4, 5), np.int64)
    mask[:, 3:] = 1  # 4x5 -> 8x10: label 1 from column 6
    pic = draw_sample(img, mask, title_height=6)
    assert pic.shape == (14, 30, 3)
    assert pic[10, 10 + 5].tolist() == [0, 0, 0] and pic[10, 10 + 6].tolist() == [255] * 3


def test_sample_arrays_packed_and_unpacked():
    sample = SegDataSample(metainfo=dict(img_path='a/b/x.png', set_name='S'))
    sample.gt_sem_seg = PixelData(data=torch.ones(1, 4, 6, dtype=torch.int64))
    inputs = torch.arange(3 * 4 * 6, dtype=torch.uint8).view(3, 4, 6)
    img, mask, meta = sample_arrays(dict(inputs=inputs, data_samples=sample))
    assert img.shape == (4, 6, 3) and img.dtype == np.uint8
    assert np.array_equal(img[..., 1], inputs[1].numpy())  # CHW -> HWC, channel order kept
    assert mask.shape == (4, 6) and mask.dtype == np.int64 and (mask == 1).all()
    assert meta['set_name'] == 'S'
    # TestTimeAug: lists of views -> the first view
    img2, _, _ = sample_arrays(dict(inputs=[inputs, inputs * 0], data_samples=[sample, sample]))
    assert np.array_equal(img2, img)
    # unpacked: a float grey image is clipped and rounded, repeated to 3 channels
    grey = np.array([[-5.0, 12.4], [300.0, 7.6]], np.float32)
    img3, mask3, meta3 = sample_arrays(dict(img=grey, img_path='p.png'))
    assert img3.shape == (2, 2, 3) and img3[..., 0].tolist() == [[0, 12], [255, 8]]
    assert mask3 is None and meta3 == {'img_path': 'p.png'}
    with pytest.raises(ValueError, match='sample 3: the pipeline output has neither'):
        sample_arrays(dict(other=1), where='sample 3')
    with pytest.raises(ValueError, match=r'\(H, W\) mask'):
        sample_arrays(dict(img=grey, gt_seg_map=np.zeros((2, 2, 2))))


class _Set:
    """A tiny dataset of unpacked samples with a metainfo."""

    def __init__(self, stems, meta=None, value=1):
        self.stems, self.metainfo, self.value = list(stems), meta or {}, value
        self.data_list = self.stems

    def __len__(self):
        return len(self.stems)

    def __getitem__(self, i):
        return dict(
            img=np.full((4, 4, 3), 50, np.uint8),
            img_path=f'd/{self.stems[i]}.png',
            gt_seg_map=np.full((4, 4), self.value, np.uint8))


def test_member_names_and_member_of():
    a = _Set(['x', 'y'], dict(set_name='A/1'))
    b = _Set(['z'], dict(dataset_name='A/1'))
    c = _Set(['w'])
    concat = types.SimpleNamespace(datasets=[a, b, c], metainfo={})
    assert member_names(concat) == ['A_1', 'A_1_1', '_Set']
    named = types.SimpleNamespace(datasets=[a, b], metainfo=dict(set_names=['P', 'Q']))
    assert member_names(named) == ['P', 'Q']
    assert member_names(a) == ['A_1']
    assert [member_of(concat, i)[0] for i in range(4)] == [0, 0, 1, 2]
    assert member_of(a, 1) == (0, a)


def test_write_dataset_pictures(tmp_path):
    a, b = _Set(['x', 'y'], dict(set_name='A')), _Set(['x'], dict(set_name='A'), value=0)
    data = _Concat([a, b])
    shown = []
    written = write_dataset_pictures(
        data,
        str(tmp_path),
        split='val',
        progress=False,
        on_picture=lambda pic, name: shown.append(name))
    # one folder per member (repeated set names numbered)
    assert written == [
        str(tmp_path / 'A' / 'x.jpg'),
        str(tmp_path / 'A' / 'y.jpg'),
        str(tmp_path / 'A_1' / 'x.jpg')
    ]
    assert shown == ['A/x', 'A/y', 'A_1/x']
    pic = cv2.imread(written[2])
    assert pic.shape[1] == 3 * 4 and pic[-1, 4:8].max() < 10  # member b: mask all 0 (black)
    # the same stem twice in one set: the second gets its index
    twice = _Set(['x', 'x'], dict(set_name='T'))
    assert write_dataset_pictures(
        twice, str(tmp_path / 't'), progress=False) == [
            str(tmp_path / 't' / 'T' / 'x.jpg'),
            str(tmp_path / 't' / 'T' / 'x_1.jpg')
        ]
    assert write_dataset_pictures(
        data, str(tmp_path / 'one'), max_images=1,
        progress=False) == [str(tmp_path / 'one' / 'A' / 'x.jpg')]


class _Concat:
    """A ConcatDataset-like wrapper without ``_get_ori_dataset_idx``."""

    def __init__(self, datasets):
        self.datasets, self.metainfo = datasets, {}

    def __len__(self):
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, i):
        for d in self.datasets:
            if i < len(d):
                return d[i]
            i -= len(d)
        raise IndexError(i)
