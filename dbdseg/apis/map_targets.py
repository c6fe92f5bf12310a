"""Write per-image training maps for a folder of images: teacher depth targets, classical saliency.

Two methods train on an extra map per image that no dataset release ships:

* depth distillation (Cun & Pun, ECCV 2020, Sec. 3.1) regresses the student's depth side outputs
  onto the map a pre-trained teacher predicts for each image: :func:`generate_depth_targets` runs a
  :class:`dbdseg.apis.inference.Teacher` over the images and writes 16-bit maps;
* the hard mining of Zhang & Yan (ECCV 2020, Sec. 3.3) weights the pixels where a saliency map and
  the in-focus mask disagree: :func:`write_classical_saliency` writes model-free saliency maps
  (:mod:`dbdseg.utils.saliency`) for experiments until a learned SOD model exists.

Both write ``OUT/<stem>.png`` at each image's size, atomically (:mod:`dbdseg.utils.fileio`), so an
interrupted run leaves only complete maps; configs point ``data_prefix.depth_map_path`` /
``saliency_map_path`` at OUT and ``LoadBinaryAnnotations`` reads them back as floats in [0, 1].
The module lives in ``dbdseg.apis`` (mmseg's home for running a model over inputs, next to
``inference.py``); what checks the map folders of a dataset is in
:mod:`dbdseg.datasets.map_folders`.

Errors are :class:`dbdseg.datasets.conversion.ConversionError`; the messages name the
command-line options of the tools in ``tools/dataset_converters/`` that call these functions.
"""
import datetime
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np

from dbdseg.datasets.conversion import ConversionError, progress_iter
from dbdseg.datasets.map_folders import decode_image, list_image_jobs, listing
from dbdseg.utils.fileio import atomic_write_json, imwrite_atomic, prob_to_uint8
from dbdseg.utils.saliency import frequency_tuned_saliency, spectral_residual_saliency

__all__ = [
    'SALIENCY_METHODS', 'TEACHER_JSON', 'generate_depth_targets', 'normalize_depth', 'same_teacher',
    'sha256_file', 'teacher_record', 'to_uint16', 'write_classical_saliency'
]

#: record of the teacher that made a folder of depth maps
TEACHER_JSON = 'teacher.json'
#: options that must agree between runs writing into one depth folder
SIGNATURE_OPTIONS = ('channel', 'activation', 'normalize', 'invert')
#: ``method`` of :func:`write_classical_saliency` -> (function, description)
SALIENCY_METHODS = {
    'ft': (frequency_tuned_saliency, 'frequency-tuned saliency (Achanta et al., CVPR 2009)'),
    'sr': (spectral_residual_saliency, 'spectral residual saliency (Hou & Zhang, CVPR 2007)'),
}
MAX_LISTED = 20


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (real paths)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _check_out(out: str, img_dir: str, why: str = '') -> None:
    """Refuse an output folder inside the image folder, or an output path that is a file."""
    if _inside(out, img_dir):
        raise ConversionError(f'--out {out!r} must not be the image folder or lie inside it{why}')
    if osp.exists(out) and not osp.isdir(out):
        raise ConversionError(f'--out {out!r} exists and is not a folder')


# ---------------------------------------------------------------------------- depth targets
def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte blocks (default 1 MiB)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def normalize_depth(depth: np.ndarray, mode: str = 'minmax', invert: bool = False) -> np.ndarray:
    """Map a raw (H, W) teacher output to [0, 1].

    The scale of a relative-depth teacher's output is arbitrary (Cun & Pun, ECCV 2020, Sec. 3.1,
    use the relative depth network of Chen et al. 2016), and the paper does not say how it is
    normalised; our choice is a per-image min-max stretch, or a clip for teachers that already
    predict [0, 1]. DD's MSE loss does not care about the polarity, but a run must use one.

    Args:
        depth (np.ndarray): (H, W) float map.
        mode (str): ``'minmax'``: per image ``(v - min) / (max - min)``, a constant map gives
            zeros; ``'clip'``: clipped to [0, 1]. Defaults to ``'minmax'``.
        invert (bool): return ``1 - v`` (e.g. disparity / nearness -> depth). Defaults to False.

    Returns:
        np.ndarray: float64 (H, W) in [0, 1].

    Raises:
        ValueError: non-finite values in the map, or an unknown ``mode``.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if not np.all(np.isfinite(depth)):
        raise ValueError('the teacher output holds NaN or infinite values')
    if mode == 'minmax':
        lo, hi = float(depth.min()), float(depth.max())
        out = (depth - lo) / (hi - lo) if hi > lo else np.zeros_like(depth)
    elif mode == 'clip':
        out = np.clip(depth, 0.0, 1.0)
    else:
        raise ValueError(f'unknown normalize mode {mode!r}')
    return 1.0 - out if invert else out


def to_uint16(depth01: np.ndarray) -> np.ndarray:
    """[0, 1] float map -> uint16 ``round(v * 65535)`` (values outside [0, 1] are clipped), the
    encoding ``LoadBinaryAnnotations`` reads back as ``v`` with 1/65535 precision."""
    return np.rint(np.clip(depth01, 0.0, 1.0) * 65535.0).astype(np.uint16)


def teacher_record(config: str,
                   checkpoint: str,
                   model_types: Dict[str, str],
                   name: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   channel: int = 0,
                   activation: str = 'none',
                   normalize: str = 'minmax',
                   invert: bool = False) -> dict:
    """The dict stored in ``teacher.json`` (without the map count, version and time).

    Args:
        config (str): teacher config file.
        checkpoint (str): teacher checkpoint file (hashed: SHA-256).
        model_types (dict): :attr:`dbdseg.apis.inference.Teacher.model_types`.
        name (str, optional): teacher name. Defaults to None: the config file name.
        cfg_options (dict, optional): config overrides, stored as JSON. Defaults to None.
        channel, activation, normalize, invert: the options of
            :func:`generate_depth_targets`.

    Returns:
        dict: ``teacher`` (name, config, checkpoint, checkpoint_sha256, model, cfg_options),
        ``options``, ``format`` and ``written_by``.
    """
    return dict(
        teacher=dict(
            name=name or osp.splitext(osp.basename(config))[0],
            config=osp.abspath(config),
            checkpoint=osp.abspath(checkpoint),
            checkpoint_sha256=sha256_file(checkpoint),
            model=model_types,
            cfg_options=json.loads(json.dumps(cfg_options or {}))),  # as stored
        options=dict(
            channel=channel, activation=activation, normalize=normalize, invert=bool(invert)),
        format=('16-bit grey PNG <stem>.png at the image size, value = round(depth * 65535); '
                'raw output (mode=tensor) -> bilinear to the image size -> activation -> '
                'normalize -> invert'),
        written_by='tools/dataset_converters/generate_depth_targets.py')


def same_teacher(old: dict, new: dict) -> bool:
    """Whether an existing ``teacher.json`` record ``old`` describes the same teacher (checkpoint
    hash, config overrides) and options (:data:`SIGNATURE_OPTIONS`) as ``new``; False for a
    malformed record."""
    try:
        return (old['teacher']['checkpoint_sha256'] == new['teacher']['checkpoint_sha256']
                and old['teacher'].get('cfg_options', {}) == new['teacher']['cfg_options']
                and all(old['options'].get(k) == new['options'][k] for k in SIGNATURE_OPTIONS))
    except (KeyError, TypeError):
        return False


def _dbdseg_version() -> Optional[str]:
    try:
        from dbdseg.version import __version__
        return __version__
    except Exception:  # noqa: BLE001
        return None


def generate_depth_targets(config: str,
                           checkpoint: str,
                           images: str,
                           out: str,
                           img_suffix: str = '.jpg',
                           split_file: Optional[str] = None,
                           device: str = 'cpu',
                           channel: int = 0,
                           activation: str = 'none',
                           normalize: str = 'minmax',
                           invert: bool = False,
                           teacher_name: Optional[str] = None,
                           skip_existing: bool = False,
                           overwrite: bool = False,
                           cfg_options: Optional[dict] = None,
                           progress: bool = True) -> dict:
    """Write teacher depth maps ``OUT/<stem>.png`` (16-bit, [0, 1]) and ``OUT/teacher.json``.

    Depth distillation targets (Cun & Pun, ECCV 2020, Sec. 3.1). Per image: the raw teacher map
    (:meth:`dbdseg.apis.inference.Teacher.predict`: channel ``channel`` at the image's size, then
    ``activation``), :func:`normalize_depth` (``normalize``, ``invert``) and :func:`to_uint16`.
    ``teacher.json`` records which teacher made the maps (:func:`teacher_record`, plus ``maps``,
    ``dbdseg_version`` and ``created``). Existing maps are an error (nothing is written) unless
    ``skip_existing`` (keep them, compute the missing ones; refused when ``teacher.json`` names
    another teacher or other options, so one folder never mixes teachers) or ``overwrite``
    (recompute all). Unreadable images get no map; the others are written, then the error names
    them. Prints what was written and the ``data_prefix`` line to use.

    Args:
        config (str): teacher config (any registered dbdseg/mmseg model).
        checkpoint (str): teacher checkpoint file.
        images (str): folder of images.
        out (str): output folder; not the image folder nor inside it.
        img_suffix (str): image suffix. Defaults to ``'.jpg'``.
        split_file (str, optional): file of stems (:func:`dbdseg.datasets.map_folders.
            list_image_jobs`). Defaults to None: every image below ``images``.
        device (str): torch device. Defaults to ``'cpu'``.
        channel (int): output channel holding the depth, >= 0. Defaults to 0.
        activation (str): ``'none'`` or ``'sigmoid'``. Defaults to ``'none'``.
        normalize (str): ``'minmax'`` or ``'clip'``. Defaults to ``'minmax'``.
        invert (bool): write ``1 - v``. Defaults to False.
        teacher_name (str, optional): name recorded. Defaults to None: the config file name.
        skip_existing (bool): see above. Defaults to False.
        overwrite (bool): see above. Defaults to False.
        cfg_options (dict, optional): teacher config overrides. Defaults to None.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        dict: the record written to ``teacher.json``.

    Raises:
        ConversionError: bad options or folders, existing maps, a teacher that cannot be built or
            whose output is unusable, non-finite teacher output, unreadable images (after the
            others are written).
        OSError: a missing config / checkpoint (named) or a file that cannot be written.
    """
    from dbdseg.apis.inference import Teacher, TeacherError
    if channel < 0:
        raise ConversionError(f'--channel must be >= 0, got {channel}')
    img_dir, out = osp.abspath(images), osp.abspath(out)
    _check_out(out, img_dir)
    jobs = list_image_jobs(img_dir, img_suffix, split_file)
    targets = [(stem, path, osp.join(out, stem + '.png')) for stem, path in jobs]
    existing = [t for _, _, t in targets if osp.exists(t)]
    json_path = osp.join(out, TEACHER_JSON)
    if existing and not (skip_existing or overwrite):
        raise ConversionError(
            f'{len(existing)} of the {len(targets)} depth map(s) already exist, e.g. '
            f'{listing(existing, 5)}; nothing was written. Pass --skip-existing to keep them '
            'and write the missing ones, --overwrite to recompute all, or choose another --out')

    try:
        teacher = Teacher(config, checkpoint, device, cfg_options, channel, activation)
    except TeacherError as exc:
        raise ConversionError(str(exc)) from exc
    record = teacher_record(config, checkpoint, teacher.model_types, teacher_name, cfg_options,
                            channel, activation, normalize, invert)
    if skip_existing and (existing or osp.exists(json_path)):
        old = None
        if osp.exists(json_path):
            with open(json_path, encoding='utf-8') as f:
                old = json.load(f)
        if old is None or not same_teacher(old, record):
            who = (f'{old["teacher"].get("name")!r} ({old["teacher"].get("checkpoint")})'
                   if isinstance(old, dict) and 'teacher' in old else 'an unknown teacher (no '
                   f'{TEACHER_JSON})')
            raise ConversionError(
                f'--skip-existing: the maps in {out!r} were made by {who} or with other options; '
                'one folder must not mix teachers. Use --overwrite or another --out')
    todo = targets if not skip_existing else [t for t in targets if not osp.exists(t[2])]

    unreadable, written = [], 0
    for stem, img_path, out_path in progress_iter(
            todo, total=len(todo), desc='teacher depth', enabled=progress):
        try:
            raw = teacher.predict(img_path)
        except (ValueError, FileNotFoundError):
            unreadable.append(img_path)
            continue
        except TeacherError as exc:
            raise ConversionError(str(exc)) from exc
        except IndexError as exc:  # the channel is out of range: name the option
            raise ConversionError(f'--{exc}') from exc
        try:
            depth = normalize_depth(raw, normalize, invert)
        except ValueError as exc:
            raise ConversionError(str(exc)) from exc
        imwrite_atomic(out_path, to_uint16(depth))
        written += 1

    n_maps = sum(1 for _, _, t in targets if osp.exists(t))
    record.update(
        maps=n_maps,
        dbdseg_version=_dbdseg_version(),
        created=datetime.datetime.now().astimezone().isoformat(timespec='seconds'))
    atomic_write_json(json_path, record)
    print(f'wrote {written} depth map(s) to {out} (skipped {len(targets) - len(todo)} existing); '
          f'teacher {record["teacher"]["name"]!r} recorded in {json_path}')
    print(f'  use: data_prefix=dict(..., depth_map_path={osp.relpath(out)!r})')
    if unreadable:
        raise ConversionError(f'{len(unreadable)} image(s) cannot be decoded and got no map: '
                              f'{listing(unreadable, MAX_LISTED)}')
    return record


# ---------------------------------------------------------------------------- saliency maps
def write_classical_saliency(images: str,
                             out: str,
                             method: str = 'ft',
                             img_suffix: str = '.jpg',
                             split_file: Optional[str] = None,
                             blur_sigma: Optional[float] = None,
                             overwrite: bool = False,
                             progress: bool = True) -> dict:
    """Write model-free saliency maps ``OUT/<stem>.png`` (8-bit) for a folder of images.

    For the hard mining of Zhang & Yan (ECCV 2020, Sec. 3.3), which needs a saliency map per
    training image. Each map is computed from its image alone (never from masks, depth maps or
    renderer layers: that would leak the label into training), decoded as mmcv does (OpenCV,
    EXIF orientation applied): ``method='ft'``: :func:`dbdseg.utils.saliency.
    frequency_tuned_saliency` (Achanta et al., CVPR 2009); ``'sr'``: :func:`dbdseg.utils.saliency.
    spectral_residual_saliency` (Hou & Zhang, CVPR 2007). Written 8-bit grey,
    :func:`dbdseg.utils.fileio.prob_to_uint8` (``rint(saliency * 255)``), at the image size;
    sub-folders of a stem are created. Existing output files are an error (nothing is written)
    unless ``overwrite``; other files in OUT are left alone. Unreadable images get no map; the
    others are written, then the error names them. Prints a summary and, when OUT and the image
    folder share a parent, the ``attach_saliency_maps.py`` command to run next.

    Args:
        images (str): folder of images.
        out (str): output folder; not the image folder nor inside it.
        method (str): ``'ft'`` or ``'sr'`` (:data:`SALIENCY_METHODS`). Defaults to ``'ft'``.
        img_suffix (str): image suffix. Defaults to ``'.jpg'``.
        split_file (str, optional): file of stems, a path as given (:func:`dbdseg.datasets.
            map_folders.list_image_jobs`). Defaults to None: every image below ``images``.
        blur_sigma (float, optional): ``'ft'`` only: Gaussian sigma (pixels) instead of the 5 x 5
            binomial kernel; 0 = no blur. Defaults to None.
        overwrite (bool): replace existing ``OUT/<stem>.png`` files. Defaults to False.
        progress (bool): show a progress bar. Defaults to True.

    Returns:
        dict: ``written`` (count), ``mean`` (mean saliency in [0, 1]) and ``above_half``
        (fraction of pixels > 0.5); the last two None when nothing was written.

    Raises:
        ConversionError: bad options or folders, existing outputs, unreadable images (after the
            others are written).
        OSError: a file cannot be written.
    """
    if method not in SALIENCY_METHODS:
        raise ConversionError(
            f'unknown --method {method!r}; choose from {sorted(SALIENCY_METHODS)}')
    if blur_sigma is not None and method != 'ft':
        raise ConversionError('--blur-sigma applies to --method ft only')
    img_dir, out = osp.abspath(images), osp.abspath(out)
    _check_out(out, img_dir, f' ({img_dir!r}): the dataset would list the maps as images')
    jobs = list_image_jobs(img_dir, img_suffix, split_file)
    targets = [(stem, path, osp.join(out, stem + '.png')) for stem, path in jobs]
    existing = [t for _, _, t in targets if osp.exists(t)]
    if existing and not overwrite:
        raise ConversionError(
            f'{len(existing)} of the {len(targets)} output file(s) already exist, e.g. '
            f'{listing(existing, 5)}; nothing was written. Pass --overwrite to replace them, '
            'or choose another --out')
    fn, description = SALIENCY_METHODS[method]
    kwargs = {'blur_sigma': blur_sigma} if method == 'ft' else {}

    unreadable, written = [], 0
    sum_mean, sum_above, n_pixels = 0.0, 0, 0
    for stem, img_path, out_path in progress_iter(
            targets, total=len(targets), desc=f'saliency ({method})', enabled=progress):
        img = decode_image(img_path)
        if img is None:
            unreadable.append(img_path)
            continue
        sal8 = prob_to_uint8(fn(img, **kwargs))
        imwrite_atomic(out_path, sal8)
        written += 1
        sum_mean += float(sal8.sum()) / 255.0
        sum_above += int(np.count_nonzero(sal8 > 127))  # > 0.5 on the [0, 1] scale
        n_pixels += sal8.size

    print(f'wrote {written} saliency map(s) to {out} ({description}; model-free, computed from '
          'each image alone, never from masks or renderer layers)')
    if written:
        print(f'  8-bit <stem>.png = rint(saliency x 255), image size; mean saliency '
              f'{sum_mean / n_pixels:.3f}, pixels > 0.5: {100.0 * sum_above / n_pixels:.1f} %')
    if osp.dirname(out) == osp.dirname(img_dir):
        root = osp.dirname(out)
        if not split_file:
            split = ' --all-images'
        elif osp.dirname(osp.abspath(split_file)) == root:
            split = f' --split-file {osp.basename(split_file)}'
        else:
            split = ' --split-file FILE'
        print('  next: python tools/dataset_converters/attach_saliency_maps.py --data-root '
              f'{root} --images {osp.basename(img_dir)} --saliency {osp.basename(out)}'
              f' --img-suffix {img_suffix}{split}')
    if unreadable:
        raise ConversionError(f'{len(unreadable)} image(s) cannot be decoded and got no map: '
                              f'{listing(unreadable, MAX_LISTED)}')
    return dict(
        written=written,
        mean=sum_mean / n_pixels if n_pixels else None,
        above_half=sum_above / n_pixels if n_pixels else None)
