"""Generic folder dataset for binary maps (defocus blur detection, salient object detection).

dbdseg's data conventions: images and masks paired by file stem, an optional split file of stems,
a per-dataset ``invert`` flag for mask polarity, unlabeled datasets, and extra per-image maps
(depth, saliency, pseudo labels) found through ``data_prefix``.
"""
import copy
import logging
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import mmengine
import mmengine.fileio as fileio
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from dbdseg.registry import DATASETS
from .polarity import sample_evenly
from .transforms.loading import EXTRA_MAP_FIELDS, binarize_mask, read_mask

#: The polarity check reads at most this many masks, evenly spread over the data list.
POLARITY_CHECK_SAMPLES = 50
#: ... and only runs with at least this many masks (the mean of fewer says little).
POLARITY_CHECK_MIN_IMAGES = 5


@DATASETS.register_module()
class BinarySegDataset(BaseSegDataset):
    """Folder dataset of images and binary masks paired by file stem.

    Layout (every folder name is free; it is given through ``data_prefix``)::

        data_root/
            <img_path>/<stem><img_suffix>             e.g. images/0001.jpg
            <seg_map_path>/<stem><seg_map_suffix>     e.g. masks/0001.png
            <depth_map_path>/<stem><extra_map_suffix>         (optional)
            <saliency_map_path>/<stem><extra_map_suffix>      (optional)
            <pseudo_label_path>/<stem><extra_map_suffix>      (optional)
            <ann_file>                                 (optional) one stem per line

    A stem may contain sub-folders (``a/b/0001``): without ``ann_file`` the image folder is listed
    recursively like mmseg's :class:`BaseSegDataset` (sorted by image path); with ``ann_file`` the
    stems are taken in file order (blank lines skipped; a line is a stem, without the suffix).

    Labels (dbdseg's convention for every task, so that one binary head, loss and metric serve
    both): 1 = in-focus (DBD) / salient (SOD), 0 = blurred / background, 255 = ignored; the masks
    themselves are read and binarised by
    :class:`~dbdseg.datasets.transforms.LoadBinaryAnnotations`, which applies ``invert``.

    Suffixes and polarity: each named dataset (e.g. :class:`~dbdseg.datasets.CUHKDBDDataset`)
    states its release's image suffix, mask suffix and mask polarity in the class attributes
    ``IMG_SUFFIX``, ``SEG_MAP_SUFFIX`` and ``INVERT``; they are the defaults of the arguments
    below, so configs give ``img_suffix`` / ``seg_map_suffix`` / ``invert`` only to override
    them (e.g. for a re-release with other suffixes).

    Each data info holds ``img_path``, ``seg_map_path`` (``None`` for an unlabeled dataset),
    ``stem`` (the image path relative to the image folder, without suffix, sub-folders kept:
    ``'a/b/0001'``; ``SODMetric(output_dir=...)`` names its PNGs by it when
    ``PackBinarySegInputs`` packs it, so ``a/x.jpg`` and ``b/x.jpg`` do not collide),
    ``invert``, ``set_name``, ``label_map`` (always None), ``reduce_zero_label`` (always False),
    ``seg_fields`` (empty list), and for each extra-map key given in ``data_prefix``
    (``depth_map_path``, ``saliency_map_path``, ``pseudo_label_path``) the path of that map.

    Polarity check (a warning, never an error): a dataset with an expected range of the mean
    label-1 fraction (class attribute ``FG_FRACTION_RANGE`` of the named datasets, or the
    argument ``fg_fraction_range``) reads up to 50 masks evenly spread over its data list when the
    list is loaded (at least 5 masks; grey > 128 = label 1 as ``LoadBinaryAnnotations`` by
    default, then ``invert``; unreadable masks skipped, the pipeline reports them), and logs a
    warning naming the ``invert`` setting when the mean fraction of label 1 per mask lies outside
    the range. The trap it catches: a set stored as white = blurred (the CUHK originals) or
    white = background read without ``invert=True`` has mean ``1 - m`` instead of ``m``, so its
    in-focus / salient class becomes the majority. Here ``FG_FRACTION_RANGE`` is None: no
    expectation, no check.

    Set name: ``set_name`` identifies the test set in multi-set evaluation (metric keys
    ``<set_name>/maxF``, prediction folders ``<out>/<set_name>/``, see
    :class:`~dbdseg.datasets.MultiSetDataset`). When not given it is the class attribute
    ``SET_NAME`` if the class defines one (the named datasets, e.g. ``'CUHK'``), else the last
    folder name of ``data_root`` (``'data/cuhk_dbd/'`` -> ``'cuhk_dbd'``), else the last folder
    name of ``data_prefix['img_path']``. ``PackBinarySegInputs`` copies it into each sample's
    metainfo. It is not part of ``metainfo`` (datasets of one task share their metainfo).

    Args:
        data_root (str, optional): Root joined with the relative ``data_prefix`` folders and
            ``ann_file``.
        data_prefix (dict): Folders. ``img_path`` (required; ``''`` = ``data_root`` itself),
            ``seg_map_path`` (missing or ``None`` makes an unlabeled dataset), and optionally
            ``depth_map_path``, ``saliency_map_path``, ``pseudo_label_path``.
            Defaults to ``dict(img_path='', seg_map_path='')`` as mmseg.
        img_suffix (str, optional): Image file suffix. Defaults to None: the class attribute
            ``IMG_SUFFIX`` (``'.jpg'`` here; each named dataset sets its release's).
        seg_map_suffix (str, optional): Mask file suffix. Defaults to None: the class attribute
            ``SEG_MAP_SUFFIX`` (``'.png'`` here).
        ann_file (str, optional): Split file listing stems; ``None`` or ``''`` lists the image
            folder. Defaults to None.
        invert (bool, optional): Flip the mask polarity on load (for masks stored as white =
            blurred, e.g. the CUHK originals); put into every data info. Defaults to None: the
            class attribute ``INVERT`` (False here; True for :class:`CUHKDBDDataset`).
        set_name (str, optional): Name of this set in results and metric keys (see above);
            non-empty, without ``'/'`` or ``'\\'``. Defaults to None (derived).
        fg_fraction_range (Sequence[float], optional): ``(low, high)`` with
            ``0 <= low < high <= 1``: the expected mean fraction of label 1 per mask, checked as
            described above; ``(0, 1)`` turns the check off. Defaults to None: the class
            attribute ``FG_FRACTION_RANGE`` (None here: no check).
        extra_map_suffix (str): Suffix of every extra map file. Defaults to ``'.png'``.
        reduce_zero_label (bool): Must stay False (binary labels {0, 1}); kept only so configs
            written for mmseg datasets still build. Defaults to False.
        **kwargs: Passed on to :class:`mmseg.datasets.BaseSegDataset` (``pipeline``,
            ``test_mode``, ``metainfo``, ``indices``, ``backend_args``, ...).

    Raises:
        ValueError: ``reduce_zero_label=True``; an ``ann_file`` with no stems; a ``set_name``
            that is not a non-empty string without path separators; a ``fg_fraction_range``
            that is not two numbers with ``0 <= low < high <= 1``.
        FileNotFoundError: (when the data list is loaded) the image folder, the mask folder or an
            extra-map folder does not exist; no image with ``img_suffix`` in the image folder;
            ``ann_file`` does not exist; an image listed in ``ann_file`` is missing; a mask or an
            extra map is missing for an image (for ``depth_map_path``: the message names
            ``tools/dataset_converters/generate_depth_targets.py`` and its options, the
            synthetic renders' exact depth, and how to switch the depth loss off). Messages name
            the folder or file (and, for an
            empty listing or a missing mask, what the folder holds instead).
        ValueError: (when a sample is loaded, :meth:`prepare_data`) a pipeline error whose
            message does not name the sample's files is re-raised naming them.
    """

    METAINFO = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 255, 255]])
    #: Default ``set_name`` of the named datasets; None here (derived from the folders).
    SET_NAME: Optional[str] = None
    #: Defaults of ``img_suffix``, ``seg_map_suffix`` and ``invert``: a named dataset states its
    #: release's suffixes and mask polarity here instead of repeating ``__init__``.
    IMG_SUFFIX: str = '.jpg'
    SEG_MAP_SUFFIX: str = '.png'
    INVERT: bool = False
    #: Expected ``(low, high)`` range of the mean fraction of label 1 per mask (after
    #: ``invert``), checked when the data list is loaded (see *Polarity check*); None: no check.
    #: Each named dataset states its range and where the numbers come from.
    FG_FRACTION_RANGE: Optional[Tuple[float, float]] = None

    def __init__(self,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path='', seg_map_path=''),
                 img_suffix: Optional[str] = None,
                 seg_map_suffix: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 invert: Optional[bool] = None,
                 extra_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 set_name: Optional[str] = None,
                 fg_fraction_range: Optional[Sequence[float]] = None,
                 **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError(
                f'{type(self).__name__}: reduce_zero_label must be False for binary maps '
                '(labels are {0, 1}; 255 is the ignore index)')
        img_suffix = self.IMG_SUFFIX if img_suffix is None else img_suffix
        seg_map_suffix = self.SEG_MAP_SUFFIX if seg_map_suffix is None else seg_map_suffix
        self.invert = bool(self.INVERT if invert is None else invert)
        if fg_fraction_range is None:
            fg_fraction_range = self.FG_FRACTION_RANGE
        self.fg_fraction_range = self._check_range(fg_fraction_range)
        self.extra_map_suffix = extra_map_suffix
        # mmengine joins every data_prefix value with data_root and rejects None, so keys set to
        # None ("not given") are dropped here: seg_map_path=None means an unlabeled dataset.
        data_prefix = {k: v for k, v in copy.copy(data_prefix).items() if v is not None}
        if 'img_path' not in data_prefix:
            raise ValueError(
                f'{type(self).__name__}: data_prefix needs img_path, got {data_prefix}')
        # set before super().__init__, which loads the data list unless lazy_init
        self.set_name = self._resolve_set_name(set_name, data_root, data_prefix['img_path'])
        super().__init__(
            ann_file=ann_file or '',
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_root=data_root,
            data_prefix=data_prefix,
            reduce_zero_label=False,
            **kwargs)

    @classmethod
    def get_label_map(cls, new_classes=None) -> None:
        """Binary datasets never remap labels: any two class names may rename the classes.

        Args:
            new_classes (Sequence[str], optional): Class names from ``metainfo``.

        Returns:
            None: labels stay {0, 1}.

        Raises:
            ValueError: ``new_classes`` does not hold exactly two names.
        """
        if new_classes is not None and len(new_classes) != 2:
            raise ValueError(f'{cls.__name__} is binary: metainfo classes must be two names '
                             f'(label 0, label 1), got {tuple(new_classes)}')
        return None

    # ------------------------------------------------------------------ helpers
    @classmethod
    def _resolve_set_name(cls, set_name: Optional[str], data_root: Optional[str],
                          img_path: str) -> str:
        """``set_name``, else ``SET_NAME``, else the folder name of data_root / the image folder."""
        if set_name is None:
            set_name = cls.SET_NAME
        if set_name is None:
            folder = data_root if data_root else img_path
            set_name = osp.basename(osp.normpath(folder))
            if set_name in ('', '.', '..'):  # '.', '..' or a root: name the folder it stands for
                set_name = osp.basename(osp.abspath(folder)) or cls.__name__
        if not isinstance(set_name, str) or not set_name.strip():
            raise ValueError(f'{cls.__name__}: set_name must be a non-empty string, got '
                             f'{set_name!r} (data_root {data_root!r})')
        if '/' in set_name or '\\' in set_name:
            raise ValueError(f'{cls.__name__}: set_name {set_name!r} must not contain a path '
                             'separator (it names result folders and metric keys)')
        return set_name

    @classmethod
    def _check_range(cls, value: Optional[Sequence[float]]) -> Optional[Tuple[float, float]]:
        """``fg_fraction_range`` as a tuple of two floats (or None); ValueError when invalid."""
        if value is None:
            return None
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            low = high = float('nan')
        if not 0 <= low < high <= 1:
            raise ValueError(f'{cls.__name__}: fg_fraction_range must be (low, high) with '
                             f'0 <= low < high <= 1, got {value!r}')
        return low, high

    def _check_polarity(self, data_list: List[dict]) -> None:
        """Log a warning when the mean label-1 fraction of sampled masks is outside
        ``fg_fraction_range`` (see *Polarity check* in the class docstring)."""
        if self.fg_fraction_range is None:
            return
        labelled = [info for info in data_list if info.get('seg_map_path')]
        if len(labelled) < POLARITY_CHECK_MIN_IMAGES:
            return
        fractions = []
        for info in sample_evenly(labelled, POLARITY_CHECK_SAMPLES):
            path = info['seg_map_path']
            try:
                grey = read_mask(path, self.backend_args, check_colours=False)
                labels = binarize_mask(grey, 128, self.invert, path)
            except Exception:  # noqa: BLE001 - only a check; the pipeline names bad masks
                continue
            if labels.size:
                fractions.append(float(np.count_nonzero(labels)) / labels.size)
        if len(fractions) < POLARITY_CHECK_MIN_IMAGES:
            return
        mean = float(np.mean(fractions))
        low, high = self.fg_fraction_range
        if low <= mean <= high:
            return
        name = type(self).__name__
        classes = self.metainfo.get('classes') or ()
        label = f' ({classes[1]})' if len(classes) == 2 else ''
        if self.invert == self.INVERT and self.FG_FRACTION_RANGE is not None:
            setting = f'invert={self.invert} (the default of {name}, for its release)'
        else:
            setting = f"invert={self.invert} ({name}'s default is invert={self.INVERT})"
        print_log(
            f'{name}: set {self.set_name!r}: the mean fraction of label 1{label} in '
            f'{len(fractions)} of its {len(labelled)} masks is {mean:.2f}, outside the range '
            f'[{low:g}, {high:g}] expected for {name} (fg_fraction_range). Check the mask '
            f'polarity: the masks are read with {setting}; if they are stored the other way '
            'round (white = blurred, or white = background), set '
            f'invert={not self.invert}.',
            logger='current',
            level=logging.WARNING)

    def _check_dir(self, path: str, what: str) -> None:
        if not fileio.isdir(path, backend_args=self.backend_args):
            raise FileNotFoundError(f'{type(self).__name__}: {what} folder {path!r} does not exist')

    def _exists(self, path: str) -> bool:
        return fileio.exists(path, backend_args=self.backend_args)

    def _list_stems(self, img_dir: str) -> List[str]:
        """Stems (relative to ``img_dir``, without suffix) of the images of this dataset."""
        if self.ann_file:
            if not fileio.isfile(self.ann_file, backend_args=self.backend_args):
                hint = ''
                split_lists = ('splits/train.txt', 'splits/val.txt')
                if self.ann_file.replace(osp.sep, '/').endswith(split_lists):
                    root = osp.dirname(osp.dirname(self.ann_file))
                    hint = (f' (the validation split carved from the training images; the '
                            f'CUHK / DUT converters write it, and for a folder converted before '
                            f'it existed: python tools/dataset_converters/validation_split.py '
                            f'{root}, with --val-list '
                            f'tools/dataset_converters/splits/cuhk_dbd_val60.txt for CUHK)')
                raise FileNotFoundError(
                    f'{type(self).__name__}: ann_file {self.ann_file!r} does not exist{hint}')
            lines = mmengine.list_from_file(self.ann_file, backend_args=self.backend_args)
            stems = [line.strip() for line in lines if line.strip()]
            if not stems:
                raise ValueError(
                    f'{type(self).__name__}: ann_file {self.ann_file!r} lists no image stems')
            for stem in stems:
                img_path = osp.join(img_dir, stem + self.img_suffix)
                if not self._exists(img_path):
                    raise FileNotFoundError(
                        f'{type(self).__name__}: image {img_path!r} listed as {stem!r} in '
                        f'ann_file {self.ann_file!r} does not exist')
            return stems
        n = len(self.img_suffix)
        names = fileio.list_dir_or_file(
            dir_path=img_dir,
            list_dir=False,
            suffix=self.img_suffix,
            recursive=True,
            backend_args=self.backend_args)
        stems = [name[:-n] for name in sorted(names)]  # sorted by image path, as mmseg
        if not stems:
            raise FileNotFoundError(
                f'{type(self).__name__}: no image files with suffix {self.img_suffix!r} found in '
                f'folder {img_dir!r}{self._other_suffixes_hint(img_dir)}')
        return stems

    def _other_suffixes_hint(self, folder: str) -> str:
        """``'; it holds 12 files ending in .JPG, 3 in .png'`` (a hint for empty listings)."""
        try:
            names = list(
                fileio.list_dir_or_file(
                    folder, list_dir=False, recursive=True, backend_args=self.backend_args))
        except Exception:  # noqa: BLE001 - only a hint
            return ''
        if not names:
            return ' (the folder is empty)'
        counts = {}
        for name in names:
            suffix = osp.splitext(name)[1] or '<none>'
            counts[suffix] = counts.get(suffix, 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
        listed = ', '.join(f'{n} ending in {suf}' for suf, n in top)
        return f'; it holds {len(names)} other file(s): {listed} (set img_suffix?)'

    def _depth_hint(self, folder: str) -> str:
        """How to make the depth maps of ``depth_map_path`` (depth distillation targets)."""
        split = f' --split-file {self.ann_file}' if self.ann_file else ''
        return (f'. Depth distillation (Cun & Pun 2020, Sec. 3.1) needs a depth map per training '
                f'image: make them with python tools/dataset_converters/generate_depth_targets.py '
                f'TEACHER_CONFIG TEACHER_CHECKPOINT --images {self.data_prefix["img_path"]} --out '
                f'{folder} --img-suffix {self.img_suffix}{split} (a depth teacher you supply, any '
                f'model registered in mmseg; options --channel, --activation, --normalize '
                f'minmax|clip, --invert, --skip-existing to finish an interrupted run); synthetic '
                f'renders carry the renderer\'s exact depth instead '
                f'(tools/dataset_converters/synthesize_defocus.py writes <out>/depth/); or train '
                f'without the depth loss: --cfg-options model.decode_head.loss_depth.loss_weight=0 '
                f'and drop depth_map_path from data_prefix')

    def _missing_hint(self, folder: str, stem: str) -> str:
        """Files in ``folder`` whose names start like ``stem`` (a hint for mismatched names)."""
        base = osp.basename(stem)
        try:
            names = fileio.list_dir_or_file(
                osp.join(folder, osp.dirname(stem)), list_dir=False, backend_args=self.backend_args)
            close = sorted(
                n for n in names if n.startswith(base) or base.startswith(osp.splitext(n)[0]))[:3]
        except Exception:  # noqa: BLE001 - only a hint
            return ''
        if not close:
            return ''
        return f' (found {", ".join(repr(c) for c in close)}: another suffix or naming scheme?)'

    # ------------------------------------------------------------------ main
    def load_data_list(self) -> List[dict]:
        """Build the data infos; see the class docstring for the keys and the errors raised.

        Returns:
            list[dict]: One data info per image (ann_file order, else sorted by image path).
        """
        img_dir = self.data_prefix['img_path']
        ann_dir = self.data_prefix.get('seg_map_path', None)
        self._check_dir(img_dir, 'image')
        if ann_dir is not None:
            self._check_dir(ann_dir, 'mask (seg_map_path)')
        extra_dirs = {}
        for key in EXTRA_MAP_FIELDS:
            if self.data_prefix.get(key) is not None:
                extra_dirs[key] = self.data_prefix[key]
                try:
                    self._check_dir(extra_dirs[key], f'extra map ({key})')
                except FileNotFoundError as exc:
                    if key != 'depth_map_path':
                        raise
                    raise FileNotFoundError(str(exc) + self._depth_hint(extra_dirs[key])) from None

        data_list = []
        for stem in self._list_stems(img_dir):
            img_path = osp.join(img_dir, stem + self.img_suffix)
            data_info = dict(img_path=img_path, seg_map_path=None, stem=stem)
            if ann_dir is not None:
                seg_map_path = osp.join(ann_dir, stem + self.seg_map_suffix)
                if not self._exists(seg_map_path):
                    raise FileNotFoundError(
                        f'{type(self).__name__}: mask for image {img_path!r} not found: '
                        f'expected {seg_map_path!r}{self._missing_hint(ann_dir, stem)}')
                data_info['seg_map_path'] = seg_map_path
            for key, folder in extra_dirs.items():
                map_path = osp.join(folder, stem + self.extra_map_suffix)
                if not self._exists(map_path):
                    hint = self._depth_hint(folder) if key == 'depth_map_path' else ''
                    raise FileNotFoundError(
                        f'{type(self).__name__}: {key} map for image {img_path!r} not found: '
                        f'expected {map_path!r}{self._missing_hint(folder, stem)}{hint}')
                data_info[key] = map_path
            data_info['invert'] = self.invert
            data_info['set_name'] = self.set_name
            data_info['label_map'] = self.label_map
            data_info['reduce_zero_label'] = self.reduce_zero_label
            data_info['seg_fields'] = []
            data_list.append(data_info)
        if ann_dir is not None:
            self._check_polarity(data_list)
        return data_list

    def prepare_data(self, idx):
        """Run the pipeline on sample ``idx``; errors name the sample's files.

        A transform that fails without naming the file it was loading (e.g. OpenCV's
        ``cv2.error`` on an empty image file inside mmcv's ``LoadImageFromFile``) is re-raised as
        ``ValueError('cannot load sample <idx> of <Dataset> (image ..., mask ...): <error>')``
        chained to the original; errors whose message already names the image or mask file are
        re-raised unchanged (same type).

        Raises:
            ValueError: see above.
        """
        try:
            return super().prepare_data(idx)
        except Exception as e:  # noqa: BLE001 - re-raised below
            info = self.get_data_info(idx)
            files = [info.get('img_path'), info.get('seg_map_path')]
            files += [info.get(k) for k in EXTRA_MAP_FIELDS]
            files = [f for f in files if f]
            msg = str(e)
            if any(f in msg or osp.basename(f) in msg for f in files):
                raise
            named = ', '.join(f'{k} {info[k]!r}'
                              for k in ('img_path', 'seg_map_path', *EXTRA_MAP_FIELDS)
                              if info.get(k))
            raise ValueError(f'cannot load sample {idx} of {type(self).__name__} ({named}): '
                             f'{type(e).__name__}: {msg.strip()}') from e
