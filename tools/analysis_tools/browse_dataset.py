"""Browse a binary-map dataset as its pipeline delivers it: image | mask | overlay per sample.

Like mmsegmentation 1.2.2's ``tools/analysis_tools/browse_dataset.py`` (Apache-2.0), for the binary
maps of dbdseg (ARCHITECTURE.md Section 4: label 1 = in-focus / salient, 0 = blurred / background,
255 = padding / ignore). For each sample of the chosen split it writes one JPEG::

    <output-dir>/<set>/<stem>.jpg = [ image | mask | overlay ]   (each with a title strip)

* image: as the pipeline delivers it (after resizing, cropping, flipping, photometric changes);
* mask: white = label 1, black = label 0, grey = 255 (ignore / padding), after the dataset's
  ``invert`` flag, so the polarity the model learns is visible at once; the title names both
  classes from the dataset's metainfo, e.g. 'mask: white = 1 (in-focus), black = 0 (blurred)';
* overlay: the image with the label-1 region tinted red and outlined, ignored pixels grey; title
  e.g. 'tinted: label 1 = in-focus'.

A mask of another size than the image (test pipelines load the mask after ``Resize``, so it stays
at the original size) is resized (nearest) for display and its title says so. Unlabeled samples (no
``gt_sem_seg``) give a single image panel titled 'image - no mask'. ``<set>`` is the sample's
``set_name`` (``PackBinarySegInputs`` copies the dataset's ``set_name`` into the metainfo; a
``MultiSetDataset`` names each member), else the (member) dataset's ``set_name`` attribute or
metainfo, else its class name (``_1``, ``_2`` added for repeated names). The split's dataset is
built as configured; wrappers (``MultiSetDataset``, mmengine's ``ConcatDataset``,
``RepeatDataset``) are iterated as a whole, and ``--max-images`` counts over all their members.

Usage::

    python tools/analysis_tools/browse_dataset.py CONFIG [--split train|val|test]
        [--output-dir DIR] [--max-images N] [--not-show] [--show-interval S]
        [--cfg-options k=v ...]

``--output-dir`` defaults to ``work_dirs/browse_dataset/<config stem>``. Without ``--not-show``
each picture is also shown in a window for ``--show-interval`` seconds (needs a display).
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from tqdm import tqdm

if importlib.util.find_spec('dbdseg') is None:  # not installed: use this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
import dbdseg  # noqa: E402,F401  (registers dbdseg modules into mmseg's registries)
from dbdseg.utils.binary_seg_local_visualizer import (  # noqa: E402
    add_title, default_title_height, hstack_panels, mask_panel, tint_mask)
from dbdseg.utils.visualization import imwrite_atomic  # noqa: E402

PROG = 'tools/analysis_tools/browse_dataset.py'
TINT_BGR = (40, 40, 255)  # red in OpenCV's BGR order
JPEG_QUALITY = 95


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description='Browse a binary-map dataset: image | mask | overlay per sample')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split',
        choices=['train', 'val', 'test'],
        default='train',
        help='which dataloader\'s dataset to browse (default: train)')
    parser.add_argument(
        '--output-dir',
        default=None,
        type=str,
        help='where to write the pictures (default: '
        'work_dirs/browse_dataset/<config stem>)')
    parser.add_argument(
        '--max-images', type=int, default=None, help='stop after this many samples (default: all)')
    parser.add_argument(
        '--not-show',
        default=False,
        action='store_true',
        help='do not show the pictures in a window (only write them)')
    parser.add_argument(
        '--show-interval', type=float, default=2, help='seconds each picture is shown (default: 2)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    args = parser.parse_args(argv)
    if args.max_images is not None and args.max_images < 1:
        parser.error(f'--max-images must be >= 1, got {args.max_images}')
    if args.show_interval < 0:
        parser.error(f'--show-interval must be >= 0, got {args.show_interval}')
    return args


def _fail(msg: str):
    """Stop with ``PROG: error: msg`` (exit status 1)."""
    raise SystemExit(f'{PROG}: error: {msg}')


def build_dataset(cfg: Config, split: str, config_path: str = '<config>'):
    """Build ``cfg.<split>_dataloader.dataset`` (with its pipeline) in the config's scope.

    Raises:
        SystemExit: the config has no such dataloader / dataset (the message names both).
    """
    from mmseg.registry import DATASETS
    loader = cfg.get(f'{split}_dataloader', None)
    if not loader or not loader.get('dataset', None):
        _fail(f'{config_path} has no {split}_dataloader.dataset to browse')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return DATASETS.build(loader['dataset'])


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


def sample_arrays(item: dict, where: str = '<sample>'):
    """Image, mask and metainfo of one dataset item.

    Args:
        item (dict): A packed sample (``inputs`` (C, H, W) tensor, ``data_samples``
            SegDataSample; lists of views from ``TestTimeAug``: the first view) or an unpacked
            one (``img`` (H, W, C) array, optional ``gt_seg_map`` (H, W)).
        where (str): Name used in error messages.

    Returns:
        tuple: ``(image, mask, meta)``: (H, W, 3) uint8 in the pipeline's channel order (BGR from
        ``LoadImageFromFile``), (h, w) int64 labels or None, and a metainfo dict (``img_path``,
        ``set_name``, ...).

    Raises:
        ValueError: the item holds no image (names ``where``).
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
                mask,
                classes=None,
                title_height=None,
                alpha=0.5,
                tint=TINT_BGR) -> np.ndarray:
    """The picture of one sample: ``[image | mask | overlay]`` with title strips.

    Args:
        img (np.ndarray): (H, W, 3) uint8 (BGR).
        mask (np.ndarray, optional): (h, w) labels {0, 1, 255}; resized (nearest) to (H, W) for
            display when it differs. None draws the image alone titled 'image - no mask'.
        classes (Sequence[str], optional): (label 0 name, label 1 name) for the titles.
        title_height (int, optional): Title strip height; default from the image width.
        alpha (float): Tint weight of the overlay. Defaults to 0.5.
        tint (tuple): Tint colour in the image's channel order. Defaults to red (BGR).

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
def _member_names(dataset) -> list:
    """Folder name of each member of a dataset wrapper with ``datasets`` (else of the dataset)."""
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


def _member_of(dataset, idx: int):
    """(member index, member dataset) of sample ``idx`` of a ``ConcatDataset``-like wrapper."""
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


def _show(picture: np.ndarray, name: str, interval: float) -> None:
    try:
        cv2.imshow('browse_dataset', picture)
        cv2.setWindowTitle('browse_dataset', name)
        cv2.waitKey(max(1, int(interval * 1000)))
    except cv2.error as e:
        _fail(f'cannot show pictures here ({str(e).strip().splitlines()[-1]}); '
              'use --not-show to only write them')


def main(argv=None):
    """Write (and show) the pictures; ``argv`` defaults to ``sys.argv[1:]``.

    Returns:
        list[str]: The files written, in dataset order.
    """
    args = parse_args(argv)
    if not osp.isfile(args.config):
        _fail(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    out_dir = args.output_dir or osp.join('work_dirs', 'browse_dataset',
                                          osp.splitext(osp.basename(args.config))[0])

    dataset = build_dataset(cfg, args.split, args.config)
    names = _member_names(dataset)
    total = len(dataset)
    n = total if args.max_images is None else min(total, args.max_images)
    written, used = [], set()
    for idx in tqdm(range(n), desc=f'browse {args.split}', unit='img'):
        k, member = _member_of(dataset, idx)
        item = dataset[idx]
        img, mask, meta = sample_arrays(item, where=f'{args.split} sample {idx}')
        classes = (getattr(member, 'metainfo', None) or {}).get('classes', None)
        set_name = str(meta.get('set_name') or names[k]).replace('/', '_')
        img_path = meta.get('img_path') or f'sample_{idx:06d}'
        stem = osp.splitext(osp.basename(str(img_path)))[0]
        out_file = osp.join(out_dir, set_name, f'{stem}.jpg')
        if out_file in used:  # the same stem twice (sub-folders, repeated datasets)
            out_file = osp.join(out_dir, set_name, f'{stem}_{idx}.jpg')
        used.add(out_file)
        picture = draw_sample(img, mask, classes)
        os.makedirs(osp.dirname(out_file), exist_ok=True)
        imwrite_atomic(out_file, picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        written.append(out_file)
        if not args.not_show:
            _show(picture, f'{set_name}/{stem}', args.show_interval)
    if not args.not_show:
        cv2.destroyAllWindows()
    folders = sorted({osp.dirname(f) for f in written})
    print(
        f'wrote {len(written)} of {total} {args.split} samples '
        f'(image | mask | overlay) to {out_dir}: ' + ', '.join(folders),
        flush=True)
    return written


if __name__ == '__main__':
    main(sys.argv[1:])
