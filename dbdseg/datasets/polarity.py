"""Mask polarity statistic: what does a white mask pixel mean in a dataset release?

dbdseg's label 1 is *in-focus* (defocus blur detection, DBD) or *salient* (salient object
detection, SOD). Public releases store their masks with either polarity, and the dataset classes
carry the release's polarity (``invert=``). The dataset converters
(:mod:`dbdseg.datasets.conversion`) run this statistic on a few image/mask pairs of a release and
warn when it disagrees with the polarity the release is documented with.

The statistic is a sanity check, not a proof. Its two votes:

* DBD (:func:`dbd_vote`): in-focus regions hold more high-frequency energy than defocused ones,
  the premise of every classical focus measure; the measure is the energy of the Laplacian
  (:func:`dbdseg.utils.sharpness.gradient_energy_map`; Subbarao, Choi & Nikzad, "Focusing
  techniques", Opt. Eng. 1993). A white area sharper than the black area votes white = in-focus.
* SOD (:func:`sod_vote`): salient objects rarely touch the image border, the boundary (background)
  prior of Wei et al. ("Geodesic saliency using background priors", ECCV 2012) and Yang et al.
  (graph-based manifold ranking, CVPR 2013). Less white on the border band than in the whole mask
  votes white = salient.

The thresholds (white = value > 128, or 1 in a 0/1 mask), the 5 % border band and the sharpness
window (about 1/40 of the short image side, odd, in [3, 15]) are our choices; no paper fixes them.
"""
from collections import Counter

import cv2
import numpy as np
from tqdm import tqdm

from dbdseg.utils.sharpness import gradient_energy_map

__all__ = [
    'WHITE_BACKGROUND', 'WHITE_BLURRED', 'WHITE_IN_FOCUS', 'WHITE_SALIENT', 'dbd_vote',
    'format_polarity', 'judge_polarity', 'polarity_statistic', 'sample_evenly', 'sod_vote'
]

#: Polarity labels: what a white mask pixel means.
WHITE_IN_FOCUS = 'white = in-focus'
WHITE_BLURRED = 'white = blurred'
WHITE_SALIENT = 'white = salient'
WHITE_BACKGROUND = 'white = background'

SHARPNESS_NAME = 'dbdseg.utils.sharpness.gradient_energy_map'
BORDER_FRACTION = 0.05


def sample_evenly(items, n):
    """At most ``n`` items of ``items`` at evenly spread positions (first and last included).

    Args:
        items (Iterable): the items (read once into a list).
        n (int): how many to keep; ``n <= 0`` keeps none.

    Returns:
        list: ``items`` itself (as a list) when ``n >= len(items)``, else the items at the rounded
        positions of ``numpy.linspace(0, len(items) - 1, n)`` (duplicates dropped), in order.
    """
    items = list(items)
    if n <= 0 or not items:
        return []
    if n >= len(items):
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def _binary_white(mask):
    """Boolean white map of a grey mask: values 0/1 as they are, else > 128 (pysodmetrics' rule)."""
    if mask.max() <= 1:
        return mask == 1
    return mask > 128


def _window(h, w):
    """Odd sharpness window for an image size: about 1/40 of the short side, in [3, 15]."""
    return int(max(3, min(15, (min(h, w) // 40) | 1)))


def dbd_vote(image_path, mask_path, sharpness_fn=gradient_energy_map):
    """Vote on one DBD image/mask pair: is the white mask area sharper than the black one?

    The image is read as grey, the sharpness map computed with a window of about 1/40 of the short
    side (odd, in [3, 15] pixels), and its mean inside white mask pixels (> 128, or 1 in a 0/1 mask)
    compared with its mean inside black ones.

    Args:
        image_path (str): the image file (any format OpenCV reads).
        mask_path (str): its mask, same height and width.
        sharpness_fn (Callable): ``fn(grey, window=int) -> (H, W) float map``, larger = sharper;
            only the order of the two means matters, so any positive rescaling gives the same vote.
            Defaults to :func:`dbdseg.utils.sharpness.gradient_energy_map`.

    Returns:
        str: ``'in-focus'`` (white sharper), ``'blurred'`` (white less sharp), ``'uniform'`` (a
        mask of one value), ``'tie'``, or ``'unreadable'`` (a file OpenCV cannot read, or sizes
        that differ).
    """
    img = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if img is None or mask is None or img.shape != mask.shape:
        return 'unreadable'
    white = _binary_white(mask)
    if white.all() or not white.any():
        return 'uniform'
    sharp = sharpness_fn(img, window=_window(*img.shape))
    mean_white, mean_black = float(sharp[white].mean()), float(sharp[~white].mean())
    if mean_white > mean_black:
        return 'in-focus'
    if mean_white < mean_black:
        return 'blurred'
    return 'tie'


def sod_vote(mask_path):
    """Vote on one SOD mask: does white cover less of the image border than of the whole mask?

    The border band is ``max(1, round(0.05 * side))`` pixels wide on each of the four sides.

    Args:
        mask_path (str): the mask file (white = value > 128, or 1 in a 0/1 mask).

    Returns:
        str: ``'salient'`` (less white on the border), ``'background'`` (more), ``'uniform'`` (a
        mask of one value), ``'tie'``, or ``'unreadable'``.
    """
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return 'unreadable'
    white = _binary_white(mask)
    if white.all() or not white.any():
        return 'uniform'
    h, w = white.shape
    bh = max(1, int(round(BORDER_FRACTION * h)))
    bw = max(1, int(round(BORDER_FRACTION * w)))
    border = np.zeros_like(white)
    border[:bh], border[-bh:], border[:, :bw], border[:, -bw:] = True, True, True, True
    border_frac, overall = float(white[border].mean()), float(white.mean())
    if border_frac < overall:
        return 'salient'
    if border_frac > overall:
        return 'background'
    return 'tie'


def polarity_statistic(pairs, task, samples=50, progress=True):
    """Vote on what white means in the masks, on at most ``samples`` evenly spread pairs.

    DBD (``task='dbd'``): :func:`dbd_vote` per pair, white sharper = ``white = in-focus``. SOD
    (``task='sod'``): :func:`sod_vote` per mask, less white on the border = ``white = salient``.
    Masks of one value (all white or all black) are skipped and counted.

    Args:
        pairs (Sequence): objects with ``image`` and ``mask`` file paths (e.g.
            :class:`dbdseg.datasets.conversion.Pair`).
        task (str): ``'dbd'`` or ``'sod'``.
        samples (int): at most this many pairs, spread evenly (:func:`sample_evenly`).
            Defaults to 50.
        progress (bool): show a tqdm progress bar on stderr. Defaults to True.

    Returns:
        dict: ``task``, ``method`` (one sentence), ``sampled``, ``of_pairs``, ``votes`` (label ->
        count, two labels), ``fractions`` (label -> share of the votes, None when nothing voted),
        ``skipped_uniform``, ``ties``, ``unreadable`` and ``majority`` (a label, ``'undecided'``
        on a tie of the votes, or None when nothing voted).

    Raises:
        ValueError: ``task`` is neither ``'dbd'`` nor ``'sod'``.
    """
    if task not in ('dbd', 'sod'):
        raise ValueError(f"task must be 'dbd' or 'sod', got {task!r}")
    chosen = sample_evenly(pairs, samples)
    if task == 'dbd':
        labels = {'in-focus': WHITE_IN_FOCUS, 'blurred': WHITE_BLURRED}
        method = (f'mean local sharpness ({SHARPNESS_NAME}) of the grey image inside white (> 128) '
                  'vs black mask pixels; sharper white = in-focus')
    else:
        labels = {'salient': WHITE_SALIENT, 'background': WHITE_BACKGROUND}
        method = ('white fraction on a 5% border band vs in the whole mask; less white on the '
                  'border = salient')
    counts = Counter()
    bar = tqdm(
        chosen,
        total=len(chosen),
        desc='polarity',
        unit='file',
        dynamic_ncols=True,
        leave=False,
        disable=not progress)
    for pair in bar:
        vote = dbd_vote(pair.image, pair.mask) if task == 'dbd' else sod_vote(pair.mask)
        counts[vote] += 1
    votes = {label: counts[key] for key, label in labels.items()}
    total = sum(votes.values())
    fractions = {label: (n / total if total else None) for label, n in votes.items()}
    a, b = list(votes)
    if total == 0:
        majority = None
    elif votes[a] == votes[b]:
        majority = 'undecided'
    else:
        majority = a if votes[a] > votes[b] else b
    return {
        'task': task,
        'method': method,
        'sampled': len(chosen),
        'of_pairs': len(pairs),
        'votes': votes,
        'fractions': fractions,
        'skipped_uniform': counts['uniform'],
        'ties': counts['tie'],
        'unreadable': counts['unreadable'],
        'majority': majority,
    }


def judge_polarity(stat, expected, warnings, if_wrong):
    """Compare the vote with the release's documented polarity; add a loud warning if it disagrees.

    Args:
        stat (dict): a :func:`polarity_statistic` result; gets the keys ``expected`` and
            ``agrees`` (True when most votes agree, False otherwise, None when nothing voted).
        expected (str): the label the release is documented with (e.g. :data:`WHITE_BLURRED`).
        warnings: where warnings go: anything with an ``add(message)`` method (e.g.
            :class:`dbdseg.datasets.conversion.Warnings`).
        if_wrong (str): what the user should do when most votes disagree (the config flag).
    """
    stat['expected'] = expected
    total = sum(stat['votes'].values())
    if total == 0:
        stat['agrees'] = None
        if stat['sampled']:
            warnings.add(f'polarity could not be checked: none of the {stat["sampled"]} sampled '
                         'masks had both white and black pixels')
        return
    agree = stat['votes'].get(expected, 0)
    stat['agrees'] = agree * 2 > total
    if agree * 2 < total:
        other = [label for label in stat['votes'] if label != expected][0]
        warnings.add(
            f'POLARITY: {total - agree} of {total} sampled images read as "{other}", but this '
            f'release is documented as "{expected}". {if_wrong} Look at a few masks next to '
            'their images before training.')
    elif agree * 2 == total:
        warnings.add(f'polarity undecided: {agree} of {total} sampled images read as '
                     f'"{expected}" (expected); look at a few masks next to their images')


def format_polarity(stat):
    """One line about a :func:`polarity_statistic` result (None: the statistic was skipped)."""
    if stat is None:
        return 'polarity: not checked (--polarity-samples 0)'
    total = sum(stat['votes'].values())
    if total == 0:
        return f'polarity: no usable mask among {stat["sampled"]} sampled'
    parts = ', '.join(f'{n} "{label}"' for label, n in stat['votes'].items())
    extra = ''
    if stat['skipped_uniform']:
        extra = f', {stat["skipped_uniform"]} one-valued mask(s) skipped'
    expected = f'; expected "{stat["expected"]}"' if stat.get('expected') else ''
    return f'polarity vote on {stat["sampled"]} sampled pair(s): {parts}{extra}{expected}'
