"""Tests of the mask polarity statistic (``dbdseg.datasets.polarity``).

The images are 64x48 or 16x16: the in-focus half is random texture, the blurred half flat grey, so
the sharpness vote sees a real signal.
"""
import inspect
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dbdseg.datasets import polarity
from dbdseg.datasets.polarity import (WHITE_BACKGROUND, WHITE_BLURRED, WHITE_IN_FOCUS,
                                      WHITE_SALIENT, dbd_vote, format_polarity, judge_polarity,
                                      polarity_statistic, sample_evenly, sod_vote)
from dbdseg.utils.sharpness import gradient_energy_map


def write(path, array):
    path = str(path)
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, array), path
    return path


def textured_half(seed, h=16, w=16):
    """BGR image: left half random texture (in focus), right half flat grey (blurred)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.uint8)
    img[:, :w // 2] = rng.integers(0, 256, size=(h, w // 2, 3), dtype=np.uint8)
    return img


def half_mask(white, h=16, w=16):
    """255 on the left (in-focus) half when ``white == 'in-focus'``, else on the right half."""
    mask = np.zeros((h, w), np.uint8)
    if white == 'in-focus':
        mask[:, :w // 2] = 255
    else:
        mask[:, w // 2:] = 255
    return mask


def centred_object(white, h=16, w=16):
    """A centred square: 255 on the object (``'salient'``) or on the background."""
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = 255
    return mask if white == 'salient' else 255 - mask


def old_fallback_energy(image, window=15, sigma=None):
    """The converters' former fallback: box mean of the squared Laplacian, not stretched."""
    grey = image.astype(np.float32) / 255.0
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return cv2.blur(lap * lap, (window, window))


class Collect(list):

    def add(self, message):
        self.append(message)


def test_sample_evenly():
    assert sample_evenly(range(10), 3) == [0, 4, 9]
    assert sample_evenly(range(100), 5) == [0, 25, 50, 74, 99]
    assert sample_evenly(range(4), 50) == [0, 1, 2, 3]
    assert sample_evenly(range(4), 0) == []
    assert sample_evenly([], 3) == []


def test_sharpness_is_gradient_energy_map():
    default = inspect.signature(dbd_vote).parameters['sharpness_fn'].default
    assert default is gradient_energy_map
    assert polarity.SHARPNESS_NAME == 'dbdseg.utils.sharpness.gradient_energy_map'


def test_dbd_vote(tmp_path):
    img = write(tmp_path / 'i.png', textured_half(0, h=64, w=48))
    for white in ('in-focus', 'blurred'):
        mask = write(tmp_path / f'm_{white}.png', half_mask(white, h=64, w=48))
        assert dbd_vote(img, mask) == white
        # the stretch of gradient_energy_map does not change the order of the two means
        assert dbd_vote(img, mask, old_fallback_energy) == white
    one = write(tmp_path / 'one.png', (half_mask('in-focus', h=64, w=48) // 255).astype(np.uint8))
    assert dbd_vote(img, one) == 'in-focus'  # 0/1 masks are taken as they are
    flat = write(tmp_path / 'flat.png', np.full((64, 48), 255, np.uint8))
    assert dbd_vote(img, flat) == 'uniform'
    small = write(tmp_path / 'small.png', half_mask('in-focus', h=32, w=48))
    assert dbd_vote(img, small) == 'unreadable'
    assert dbd_vote(img, str(tmp_path / 'missing.png')) == 'unreadable'
    grey = write(tmp_path / 'grey.png', np.full((64, 48), 90, np.uint8))
    assert dbd_vote(grey, mask) == 'tie'  # no texture anywhere


def test_dbd_vote_window_follows_the_image_size(tmp_path):
    windows = []

    def spy(grey, window):
        windows.append(window)
        return gradient_energy_map(grey, window=window)

    for h, w, expected in ((16, 16, 3), (200, 320, 5), (400, 480, 11), (1000, 900, 15)):
        img = write(tmp_path / f'i{h}.png', textured_half(1, h=h, w=w))
        mask = write(tmp_path / f'm{h}.png', half_mask('in-focus', h=h, w=w))
        assert dbd_vote(img, mask, spy) == 'in-focus'
        assert windows[-1] == expected


def test_sod_vote(tmp_path):
    for white in ('salient', 'background'):
        assert sod_vote(write(tmp_path / f's_{white}.png', centred_object(white))) == white
    assert sod_vote(write(tmp_path / 'flat.png', np.full((8, 8), 255, np.uint8))) == 'uniform'
    assert sod_vote(write(tmp_path / 'zero.png', np.zeros((8, 8), np.uint8))) == 'uniform'
    assert sod_vote(str(tmp_path / 'missing.png')) == 'unreadable'
    # white exactly as frequent on the border band as overall: the left half of a 20x20 mask
    assert sod_vote(write(tmp_path / 'half.png', half_mask('in-focus', 20, 20))) == 'tie'


def make_pairs(tmp_path, masks, task='dbd'):
    pairs = []
    for i, mask in enumerate(masks):
        image = write(tmp_path / f'img{i}.png', textured_half(i))
        pairs.append(SimpleNamespace(image=image, mask=write(tmp_path / f'mask{i}.png', mask)))
    return pairs


def test_polarity_statistic_dbd(tmp_path):
    masks = [half_mask('blurred')] * 3 + [half_mask('in-focus'), np.zeros((16, 16), np.uint8)]
    pairs = make_pairs(tmp_path, masks)
    stat = polarity_statistic(pairs, 'dbd', samples=50, progress=False)
    assert stat['votes'] == {WHITE_IN_FOCUS: 1, WHITE_BLURRED: 3}
    assert stat['fractions'] == {WHITE_IN_FOCUS: 0.25, WHITE_BLURRED: 0.75}
    assert stat['majority'] == WHITE_BLURRED
    assert (stat['sampled'], stat['of_pairs'], stat['skipped_uniform']) == (5, 5, 1)
    assert (stat['ties'], stat['unreadable'], stat['task']) == (0, 0, 'dbd')
    assert 'gradient_energy_map' in stat['method']
    # 2 samples: the first and the last pair (one blurred, one one-valued mask)
    stat = polarity_statistic(pairs, 'dbd', samples=2, progress=False)
    assert stat['sampled'] == 2 and stat['skipped_uniform'] == 1
    assert stat['votes'] == {WHITE_IN_FOCUS: 0, WHITE_BLURRED: 1}


def test_polarity_statistic_sod_majority(tmp_path):
    pairs = make_pairs(tmp_path, [centred_object('salient'), centred_object('background')])
    stat = polarity_statistic(pairs, 'sod', progress=False)
    assert stat['votes'] == {WHITE_SALIENT: 1, WHITE_BACKGROUND: 1}
    assert stat['majority'] == 'undecided'
    stat = polarity_statistic(pairs[:1], 'sod', progress=True)
    assert stat['majority'] == WHITE_SALIENT and 'border' in stat['method']
    flat = make_pairs(tmp_path / 'flat', [np.zeros((16, 16), np.uint8)])
    stat = polarity_statistic(flat, 'sod', progress=False)
    assert stat['majority'] is None and stat['fractions'] == {
        WHITE_SALIENT: None,
        WHITE_BACKGROUND: None
    }
    with pytest.raises(ValueError, match="task must be 'dbd' or 'sod', got 'seg'"):
        polarity_statistic(pairs, 'seg')


def stat_of(votes, sampled=None, skipped=0):
    return {
        'votes': dict(votes),
        'sampled': sum(votes.values()) if sampled is None else sampled,
        'skipped_uniform': skipped
    }


def test_judge_polarity():
    warnings = Collect()
    stat = stat_of({WHITE_IN_FOCUS: 1, WHITE_BLURRED: 3})
    judge_polarity(stat, WHITE_BLURRED, warnings, 'Set invert=False.')
    assert stat['agrees'] is True and stat['expected'] == WHITE_BLURRED and warnings == []
    judge_polarity(stat, WHITE_IN_FOCUS, warnings, 'Set invert=True.')
    assert stat['agrees'] is False
    assert warnings == [
        'POLARITY: 3 of 4 sampled images read as "white = blurred", but this release is '
        'documented as "white = in-focus". Set invert=True. Look at a few masks next to their '
        'images before training.'
    ]
    warnings.clear()
    stat = stat_of({WHITE_SALIENT: 2, WHITE_BACKGROUND: 2})
    judge_polarity(stat, WHITE_SALIENT, warnings, '')
    assert stat['agrees'] is False
    assert warnings == [
        'polarity undecided: 2 of 4 sampled images read as "white = salient" '
        '(expected); look at a few masks next to their images'
    ]
    warnings.clear()
    stat = stat_of({WHITE_SALIENT: 0, WHITE_BACKGROUND: 0}, sampled=3)
    judge_polarity(stat, WHITE_SALIENT, warnings, '')
    assert stat['agrees'] is None
    assert warnings == [
        'polarity could not be checked: none of the 3 sampled masks had both '
        'white and black pixels'
    ]
    warnings.clear()
    judge_polarity(stat_of({WHITE_SALIENT: 0}, sampled=0), WHITE_SALIENT, warnings, '')
    assert warnings == []


def test_format_polarity():
    assert format_polarity(None) == 'polarity: not checked (--polarity-samples 0)'
    assert format_polarity(stat_of({WHITE_SALIENT: 0},
                                   sampled=4)) == ('polarity: no usable mask among 4 sampled')
    stat = stat_of({WHITE_IN_FOCUS: 0, WHITE_BLURRED: 2}, sampled=3, skipped=1)
    assert format_polarity(stat) == ('polarity vote on 3 sampled pair(s): 0 "white = in-focus", '
                                     '2 "white = blurred", 1 one-valued mask(s) skipped')
    stat['expected'] = WHITE_BLURRED
    assert format_polarity(stat).endswith('skipped; expected "white = blurred"')
