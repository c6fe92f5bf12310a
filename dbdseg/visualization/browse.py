"""Pictures of a binary-map dataset as its pipeline delivers it: ``[image | mask | overlay]``.

What ``tools/analysis_tools/browse_dataset.py`` draws (like mmseg 1.2.2's tool of that name,
Apache-2.0, for dbdseg's binary maps: label 1 = in-focus / salient, 0 = blurred / background,
255 = padding / ignore). For each sample one picture with a title strip per panel:

* image: as the pipeline delivers it (after resizing, cropping, flipping, photometric changes);
* mask: white = label 1, black = label 0, grey = 255 (ignore / padding), after the dataset's
  polarity handling (``invert``), so the polarity the model learns is visible at once; the title
  names both classes from the dataset's metainfo, e.g. 'mask: white = 1 (in-focus), black = 0
  (blurred)';
* overlay: the image with the label-1 region tinted red and outlined, ignored pixels grey; title
  e.g. 'tinted: label 1 = in-focus'.

A mask of another size than the image (test pipelines load the mask after ``Resize``, so it
stays at the original size) is resized (nearest) for display and its title says so. An unlabeled
sample (no ``gt_sem_seg``) gives a single image panel titled 'image - no mask'.
:func:`write_dataset_pictures` writes ``<out_dir>/<set>/<stem>.jpg`` for the samples of a built
dataset, ``<set>`` being the sample's ``set_name``, else the (member) dataset's name
(:func:`member_names`).
"""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from dbdseg.utils.fileio import imwrite_atomic
from .local_visualizer import add_title, default_title_height, hstack_panels, mask_panel, tint_mask

__all__ = [
    'JPEG_QUALITY', 'TINT_BGR', 'draw_sample', 'member_names', 'member_of', 'sample_arrays',
    'write_dataset_pictures'
]

#: Tint of label 1 in the overlay: red in OpenCV's BGR order.
TINT_BGR = (40, 40, 255)
#: JPEG quality of the written pictures.
JPEG_QUALITY = 95


# ----------------------------------------------------------------------------------- samples
def _first_view(value):
    """The first view of a test-time-augmented sample (lists of views), else ``value``."""
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        return value[0]
    return value


def _to_image(img, where: str) -> np.ndarray:
    """(H, W, 3) uint8 from a (C, H, W) tensor or (H, W[, C]) array in the pipeline's order.

    Raises:
        ValueError: not an image-shaped array (names ``where``).
    """
    if isinstance(img, torch.Tensor):
        arr = img.detach().cpu().numpy()
        if arr.ndim == 3:
            arr = arr.transpose(1, 2, 0)
    else:
        arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] < 1:
        raise ValueError(f'{where}: cannot show an image of shape {arr.shape}')
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] > 3:  # e.g. an extra depth channel: show the colour channels
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0, 255).round()
    return np.ascontiguousarray(arr.astype(np.uint8))


def sample_arrays(item: dict,
                  where: str = '<sample>') -> Tuple[np.ndarray, Optional[np.ndarray], dict]:
    """Image, mask and metainfo of one dataset item.

    Args:
        item (dict): a packed sample (``inputs`` (C, H, W) tensor, ``data_samples``
            SegDataSample; lists of views from ``TestTimeAug``: the first view) or an unpacked
            one (``img`` (H, W, C) array, optional ``gt_seg_map`` (H, W)).
        where (str): name used in error messages. Defaults to ``'<sample>'``.

    Returns:
        tuple: ``(image, mask, meta)``: (H, W, 3) uint8 in the pipeline's channel order (BGR from
        ``LoadImageFromFile``; float images are clipped to [0, 255] and rounded), (h, w) int64
        labels or None, and a metainfo dict (``img_path``, ``set_name``, ...).

    Raises:
        ValueError: the item holds no image, or an image or mask of an unexpected shape (names
            ``where``).
    """
    if 'inputs' in item:
        img = _to_image(_first_view(item['inputs']), where)
        sample = _first_view(item.get('data_samples'))
        meta = dict(sample.metainfo) if sample is not None else {}
        mask = None
        if sample is not None and 'gt_sem_seg' in sample:
            mask = sample.gt_sem_seg.data
    elif 'img' in item:
        img = _to_image(item['img'], where)
        mask = item.get('gt_seg_map', None)
        meta = {k: item[k] for k in ('img_path', 'set_name') if k in item}
    else:
        raise ValueError(f'{where}: the pipeline output has neither "inputs" nor "img" '
                         f'(keys: {sorted(item)})')
    if mask is not None:
        mask = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if mask.ndim == 3 and mask.shape[0] == 1:
            mask = mask[0]
        if mask.ndim != 2:
            raise ValueError(f'{where}: expected a (H, W) mask, got shape {mask.shape}')
        mask = mask.astype(np.int64)
    return img, mask, meta


def draw_sample(img: np.ndarray,
                mask: Optional[np.ndarray],
                classes: Optional[Sequence[str]] = None,
                title_height: Optional[int] = None,
                alpha: float = 0.5,
                tint: Tuple[int, int, int] = TINT_BGR) -> np.ndarray:
    """The picture of one sample: ``[image | mask | overlay]`` with title strips.

    Args:
        img (np.ndarray): (H, W, 3) uint8 (BGR).
        mask (np.ndarray, optional): (h, w) labels {0, 1, 255}; resized (nearest) to (H, W) for
            display when it differs. None draws the image alone titled 'image - no mask'.
        classes (Sequence[str], optional): (label 0 name, label 1 name) for the titles.
            Defaults to None: 'label 0', 'label 1'.
        title_height (int, optional): title strip height in pixels. Defaults to None:
            :func:`~dbdseg.visualization.local_visualizer.default_title_height` of the width.
        alpha (float): tint weight of the overlay, in [0, 1]. Defaults to 0.5.
        tint (tuple): tint colour in the image's channel order. Defaults to :data:`TINT_BGR`.

    Returns:
        np.ndarray: (H + title, 3 W, 3) uint8 (with a mask) or (H + title, W, 3) (without).
    """
    h, w = img.shape[:2]
    t = title_height or default_title_height(w)
    if mask is None:
        return add_title(img, 'image - no mask', t)
    name0, name1 = ('label 0', 'label 1')
    if classes is not None and len(classes) == 2:
        name0, name1 = str(classes[0]), str(classes[1])
    resized = ' (resized for display)' if mask.shape != (h, w) else ''
    mask_title = f'mask: white = 1 ({name1}), black = 0 ({name0}){resized}'
    if (mask == 255).any():
        mask_title += ', grey = ignore'
    panels = [
        add_title(img, f'image {w}x{h}', t),
        add_title(mask_panel(mask, (h, w)), mask_title, t),
        add_title(tint_mask(img, mask, color=tint, alpha=alpha), f'tinted: label 1 = {name1}', t),
    ]
    return hstack_panels(panels)


# ----------------------------------------------------------------------------------- naming
def member_names(dataset) -> List[str]:
    """Folder name of each member of a dataset wrapper with ``datasets`` (else of the dataset).

    A name is, in this order: the wrapper's ``metainfo['set_names']`` entry
    (``MultiSetDataset``), the member's ``set_name`` attribute, its metainfo ``set_name`` or
    ``dataset_name``, else the class name of the innermost wrapped dataset (``RepeatDataset`` and
    the like are looked through). ``/`` becomes ``_``; repeated names get ``_1``, ``_2``, ...

    Args:
        dataset: a built dataset or dataset wrapper.

    Returns:
        list[str]: one name per member (one name for a plain dataset).
    """
    members = list(getattr(dataset, 'datasets', None) or [dataset])
    given = (getattr(dataset, 'metainfo', None) or {}).get('set_names', None)
    names, seen = [], {}
    for k, member in enumerate(members):
        meta = getattr(member, 'metainfo', None) or {}
        name = None
        if given is not None and k < len(given):
            name = given[k]
        name = (
            name or getattr(member, 'set_name', None) or meta.get('set_name')
            or meta.get('dataset_name'))
        if not name:
            inner = member
            while hasattr(inner, 'dataset') and not hasattr(inner, 'data_list'):
                inner = inner.dataset  # RepeatDataset & co: name after the wrapped dataset
            name = type(inner).__name__
        name = str(name).replace('/', '_')
        if name in seen:
            seen[name] += 1
            name = f'{name}_{seen[name]}'
        else:
            seen[name] = 0
        names.append(name)
    return names


def member_of(dataset, idx: int):
    """(member index, member dataset) of sample ``idx`` of a ``ConcatDataset``-like wrapper.

    Args:
        dataset: a built dataset or a wrapper with ``datasets``.
        idx (int): sample index in ``dataset``, in ``[0, len(dataset))``.

    Returns:
        tuple[int, Dataset]: ``(0, dataset)`` for a plain dataset.
    """
    members = getattr(dataset, 'datasets', None)
    if not members:
        return 0, dataset
    if hasattr(dataset, '_get_ori_dataset_idx'):
        k, _ = dataset._get_ori_dataset_idx(idx)
        return k, members[k]
    offset = 0
    for k, member in enumerate(members):
        if idx < offset + len(member):
            return k, member
        offset += len(member)
    return len(members) - 1, members[-1]


# ----------------------------------------------------------------------------------- writing
def write_dataset_pictures(dataset,
                           out_dir: str,
                           max_images: Optional[int] = None,
                           split: str = 'train',
                           on_picture: Optional[Callable[[np.ndarray, str], None]] = None,
                           progress: bool = True) -> List[str]:
    """Write ``<out_dir>/<set>/<stem>.jpg`` (:func:`draw_sample`) for the samples of ``dataset``.

    Wrappers (``MultiSetDataset``, mmengine's ``ConcatDataset``, ``RepeatDataset``) are iterated
    as a whole. ``<set>`` is the sample's ``set_name`` (``PackBinarySegInputs`` copies the
    dataset's ``set_name`` into the metainfo), else the member's name (:func:`member_names`);
    a stem met twice in a set (sub-folders, repeated datasets) gets ``_<index>`` appended. Files
    are JPEG (quality 95), written atomically.

    Args:
        dataset: a built dataset (with its pipeline).
        out_dir (str): output folder (created).
        max_images (int, optional): stop after this many samples, >= 1. Defaults to None: all.
        split (str): the split's name, for error messages and the progress bar.
            Defaults to ``'train'``.
        on_picture (callable, optional): called as ``on_picture(picture, '<set>/<stem>')`` after
            each file is written (e.g. to show it). Defaults to None.
        progress (bool): show a tqdm progress bar (stderr). Defaults to True.

    Returns:
        list[str]: the files written, in dataset order.

    Raises:
        ValueError: a sample holds no image, or one of an unexpected shape (see
            :func:`sample_arrays`).
        OSError: a file cannot be written (names it).
    """
    from tqdm import tqdm
    names = member_names(dataset)
    total = len(dataset)
    n = total if max_images is None else min(total, max_images)
    written, used = [], set()
    for idx in tqdm(range(n), desc=f'browse {split}', unit='img', disable=not progress):
        k, member = member_of(dataset, idx)
        item = dataset[idx]
        img, mask, meta = sample_arrays(item, where=f'{split} sample {idx}')
        classes = (getattr(member, 'metainfo', None) or {}).get('classes', None)
        set_name = str(meta.get('set_name') or names[k]).replace('/', '_')
        img_path = meta.get('img_path') or f'sample_{idx:06d}'
        stem = osp.splitext(osp.basename(str(img_path)))[0]
        out_file = osp.join(out_dir, set_name, f'{stem}.jpg')
        if out_file in used:  # the same stem twice (sub-folders, repeated datasets)
            out_file = osp.join(out_dir, set_name, f'{stem}_{idx}.jpg')
        used.add(out_file)
        picture = draw_sample(img, mask, classes)
        imwrite_atomic(out_file, picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        written.append(out_file)
        if on_picture is not None:
            on_picture(picture, f'{set_name}/{stem}')
    return written
