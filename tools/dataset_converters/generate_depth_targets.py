#!/usr/bin/env python
"""Write teacher depth maps ``<stem>.png`` (16-bit, normalised to [0, 1]) for a folder of images.

Depth distillation (Cun & Pun, ECCV 2020, Sec. 3.1; MODELS.md A.3 and B.3.7) trains the student's
depth side outputs towards the depth map a pre-trained TEACHER predicts for each training image. The
paper's teacher (Chen et al. 2016, "Depth in the Wild") is Torch7 code that dbdseg cannot run, so
the targets are precomputed files and the teacher is pluggable: any model registered in mmseg's
registry (a dbdseg/mmseg config) with a checkpoint the user supplies, e.g. a monocular depth network
ported to an mmseg segmentor. The synthetic defocus renders do not
need this tool: they carry the exact depth.

Usage::

    python tools/dataset_converters/generate_depth_targets.py TEACHER_CONFIG TEACHER_CHECKPOINT \\
        --images data/cuhk_dbd/train/images --out data/cuhk_dbd/train/depth [--img-suffix .jpg]
        [--split-file FILE] [--device cpu|cuda] [--channel 0] [--activation none|sigmoid]
        [--normalize minmax|clip] [--invert] [--teacher-name NAME] [--skip-existing | --overwrite]
        [--no-progress] [--cfg-options k=v ...]

Per image: the teacher config's test pipeline (annotation loaders removed; e.g. its Resize) prepares
the image, the model's data preprocessor normalises it, and the raw network output is taken in
mmengine's ``mode='tensor'`` (for an ``EncoderDecoder``: the decode head's forward in eval mode --
no sigmoid, no threshold). Channel ``--channel`` of that (N, C, h, w) output is resized (bilinear)
to the network input, cropped to the un-padded image area, resized (bilinear) to the image's own
size, optionally passed through a sigmoid (``--activation sigmoid``, for a teacher whose output is a
logit), normalised (``--normalize minmax``, default: per image ``(v - min) / (max - min)``; a
constant map becomes 0; ``clip``: clipped to [0, 1], for teachers that already predict [0, 1]) and
optionally flipped (``--invert``: 1 - v, e.g. to turn disparity / nearness into depth; DD's MSE
loss does not care about the polarity, but a run must use one). Written as ``OUT/<stem>.png``,
16-bit grey, ``round(v * 65535)`` (``LoadBinaryAnnotations`` reads it back as v with 1/65535
precision).

``OUT/teacher.json`` records which teacher made the maps: config and checkpoint paths, the
checkpoint's SHA-256, the model types, every option above, the number of maps, dbdseg's version and
the time. Configs point ``data_prefix.depth_map_path`` at OUT and name the teacher in a comment.

Resuming: existing ``OUT/<stem>.png`` files are an error (nothing is written) unless
``--skip-existing`` (keep them, compute only the missing maps; refused when ``teacher.json`` names
another teacher or other options, so one folder never mixes teachers) or ``--overwrite`` (recompute
all). Every file is written atomically (temporary file + ``os.replace``), so an interrupted run
leaves only complete maps, and ``--skip-existing`` finishes it.

Exit status 0 on success, 2 on an error (message on stderr, starting with ``error:``).
"""
import argparse
import datetime
import hashlib
import json
import os
import os.path as osp
import sys
import uuid

import cv2
import numpy as np

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _converter_utils as cu  # noqa: E402

TEACHER_JSON = 'teacher.json'
MAX_LISTED = 20
#: options that must agree between runs writing into one folder
_SIGNATURE_OPTIONS = ('channel', 'activation', 'normalize', 'invert')


def parse_args(argv=None):
    """Command line; see the module docstring."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        prog='tools/dataset_converters/generate_depth_targets.py',
        description='Run a teacher model over a folder of images and write normalised 16-bit '
        'depth maps OUT/<stem>.png plus OUT/teacher.json (depth distillation targets).')
    parser.add_argument('config', help='teacher model config (any registered dbdseg/mmseg model)')
    parser.add_argument('checkpoint', help='teacher checkpoint file')
    parser.add_argument('--images', required=True, help='folder of images')
    parser.add_argument('--out', required=True, help='output folder of <stem>.png depth maps')
    parser.add_argument(
        '--img-suffix', type=cu.suffix_arg, default='.jpg', help='image file suffix (default .jpg)')
    parser.add_argument(
        '--split-file',
        default=None,
        help='file of stems (one per line, no suffix); default: every image')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--channel', type=int, default=0, help='output channel holding the depth (default 0)')
    parser.add_argument(
        '--activation',
        choices=('none', 'sigmoid'),
        default='none',
        help='applied to the raw output before normalising (default none)')
    parser.add_argument(
        '--normalize',
        choices=('minmax', 'clip'),
        default='minmax',
        help='minmax: per-image (v - min) / (max - min) (default); clip: to [0, 1]')
    parser.add_argument('--invert', action='store_true', help='write 1 - v (flip the polarity)')
    parser.add_argument(
        '--teacher-name',
        default=None,
        help='name recorded in teacher.json (default: the config file name)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        '--skip-existing',
        action='store_true',
        help='keep existing maps (same teacher and options) and write the others')
    group.add_argument('--overwrite', action='store_true', help='recompute every map')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the teacher config (key=value)')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------- helpers
def list_image_stems(img_dir, img_suffix, split_file=None):
    """``(stem, path)`` of the images: the stems of ``split_file``, else every ``*<img_suffix>``
    file below ``img_dir`` (recursive, sorted; stems keep sub-folders, ``a/b/0001``).

    Raises:
        ConversionError: the folder or a listed image is missing, or no image is found.
    """
    if not osp.isdir(img_dir):
        raise cu.ConversionError(f'image folder {img_dir!r} does not exist')
    if split_file:
        stems = cu.read_name_list(split_file, what='--split-file')
        missing = [
            osp.join(img_dir, s + img_suffix) for s in stems
            if not osp.isfile(osp.join(img_dir, s + img_suffix))
        ]
        if missing:
            raise cu.ConversionError(f'{len(missing)} image(s) listed in {split_file!r} do not '
                                     f'exist: {cu.listing(missing, MAX_LISTED)}')
    else:
        stems = []
        for folder, dirs, names in os.walk(img_dir):
            dirs.sort()
            for name in names:
                if name.endswith(img_suffix) and len(name) > len(img_suffix):
                    rel = osp.relpath(osp.join(folder, name), img_dir)
                    stems.append(rel[:-len(img_suffix)].replace(os.sep, '/'))
        stems.sort()
        if not stems:
            raise cu.ConversionError(f'no {img_suffix} image files in {img_dir!r} (check '
                                     '--img-suffix)')
    return [(s, osp.join(img_dir, s + img_suffix)) for s in stems]


def sha256_file(path, chunk=1 << 20):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def write_png_atomic(path, array):
    """Encode ``array`` as PNG (16-bit for uint16) and write it through a temporary file +
    ``os.replace``; raises ConversionError when OpenCV cannot encode it."""
    ok, buf = cv2.imencode('.png', array)
    if not ok:
        raise cu.ConversionError(f'cannot encode {path!r} as PNG')
    folder, name = osp.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{name}.{uuid.uuid4().hex[:8]}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def normalize_depth(depth, mode='minmax', invert=False):
    """Map a raw (H, W) teacher output to [0, 1].

    Args:
        depth (np.ndarray): float map.
        mode (str): 'minmax' (per image; a constant map gives zeros) or 'clip'.
        invert (bool): return ``1 - v``.

    Returns:
        np.ndarray: float64 (H, W) in [0, 1].

    Raises:
        ConversionError: non-finite values in the map.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if not np.all(np.isfinite(depth)):
        raise cu.ConversionError('the teacher output holds NaN or infinite values')
    if mode == 'minmax':
        lo, hi = float(depth.min()), float(depth.max())
        out = (depth - lo) / (hi - lo) if hi > lo else np.zeros_like(depth)
    elif mode == 'clip':
        out = np.clip(depth, 0.0, 1.0)
    else:
        raise ValueError(f'unknown normalize mode {mode!r}')
    return 1.0 - out if invert else out


def to_uint16(depth01):
    """[0, 1] float map -> uint16 ``round(v * 65535)``."""
    return np.rint(np.clip(depth01, 0.0, 1.0) * 65535.0).astype(np.uint16)


class Teacher:
    """A dbdseg/mmseg model run in ``mode='tensor'`` on single images (see the module docstring).

    Args:
        config (str): teacher config file.
        checkpoint (str): checkpoint file (must exist).
        device (str): torch device.
        cfg_options (dict, optional): config overrides.
        channel (int): output channel to use.
        activation (str): 'none' or 'sigmoid'.

    Raises:
        ConversionError: missing config/checkpoint, a model whose tensor output is not a
            (N, C, h, w) tensor, or a channel out of range.
    """

    def __init__(self,
                 config,
                 checkpoint,
                 device='cpu',
                 cfg_options=None,
                 channel=0,
                 activation='none'):
        if not osp.isfile(config):
            raise cu.ConversionError(f'teacher config {config!r} does not exist')
        if not osp.isfile(checkpoint):
            raise cu.ConversionError(f'teacher checkpoint {checkpoint!r} does not exist (the '
                                     'teacher must be a trained model; give its checkpoint file)')
        if importlib_spec('dbdseg') is None:
            sys.path.insert(0, cu.REPO_ROOT)
        import torch

        import dbdseg  # noqa: F401  (registers dbdseg's modules)
        from dbdseg.apis import build_inference_pipelines, init_model, read_image
        self.torch = torch
        self.read_image = read_image
        try:
            self.model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
        except (FileNotFoundError, RuntimeError) as exc:
            raise cu.ConversionError(f'cannot build the teacher: {exc}') from exc
        self.pipes = build_inference_pipelines(self.model.cfg)
        self.channel = channel
        self.activation = activation
        model_cfg = self.model.cfg.model
        self.model_types = dict(segmentor=model_cfg.get('type'))
        for part in ('backbone', 'neck', 'decode_head'):
            if isinstance(model_cfg.get(part), dict):
                self.model_types[part] = model_cfg[part].get('type')

    def _prepare(self, path):
        try:
            loaded = self.pipes['load_file'](dict(img_path=path))
        except Exception:  # noqa: BLE001 - fall back to Pillow through read_image
            loaded = None
        if loaded is None or loaded.get('img') is None:
            loaded = self.pipes['load_array'](dict(img=self.read_image(path)))
            loaded['img_path'] = path
        return self.pipes['rest'](loaded)

    def predict(self, path):
        """Raw teacher map of one image at the image's own size, (H, W) float64.

        Raises:
            ConversionError: see the class docstring; ValueError from :func:`read_image` for an
            unreadable file.
        """
        torch = self.torch
        import torch.nn.functional as F
        packed = self._prepare(path)
        data = dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']])
        with torch.no_grad():
            data = self.model.data_preprocessor(data, False)
            out = self.model(data['inputs'], data['data_samples'], mode='tensor')
        if isinstance(out, (list, tuple)):
            out = out[0]
        if isinstance(out, dict):
            out = out.get('fused', None)
        if not torch.is_tensor(out) or out.dim() != 4:
            raise cu.ConversionError(f'the teacher\'s tensor output must be (N, C, h, w), got '
                                     f'{type(out).__name__} {getattr(out, "shape", "")}')
        if not 0 <= self.channel < out.shape[1]:
            raise cu.ConversionError(f'--channel {self.channel} is out of range: the teacher '
                                     f'outputs {out.shape[1]} channel(s)')
        meta = data['data_samples'][0].metainfo
        x = out[:, self.channel:self.channel + 1].float()
        x = F.interpolate(
            x, size=tuple(data['inputs'].shape[-2:]), mode='bilinear', align_corners=False)
        h, w = meta.get('img_shape', data['inputs'].shape[-2:])[:2]
        x = x[..., :h, :w]
        ori_h, ori_w = meta['ori_shape'][:2]
        x = F.interpolate(x, size=(ori_h, ori_w), mode='bilinear', align_corners=False)
        if self.activation == 'sigmoid':
            x = x.sigmoid()
        return x[0, 0].cpu().double().numpy()


def importlib_spec(name):
    """``importlib.util.find_spec(name)`` (None when the module is not importable)."""
    import importlib.util
    return importlib.util.find_spec(name)


def teacher_record(args, teacher_types):
    """The dict stored in ``teacher.json`` (without the map count and time)."""
    return dict(
        teacher=dict(
            name=args.teacher_name or osp.splitext(osp.basename(args.config))[0],
            config=osp.abspath(args.config),
            checkpoint=osp.abspath(args.checkpoint),
            checkpoint_sha256=sha256_file(args.checkpoint),
            model=teacher_types,
            cfg_options=json.loads(json.dumps(args.cfg_options or {}))),  # as stored
        options=dict(
            channel=args.channel,
            activation=args.activation,
            normalize=args.normalize,
            invert=bool(args.invert)),
        format=('16-bit grey PNG <stem>.png at the image size, value = round(depth * 65535); '
                'raw output (mode=tensor) -> bilinear to the image size -> activation -> '
                'normalize -> invert'),
        written_by='tools/dataset_converters/generate_depth_targets.py')


def _dbdseg_version():
    try:
        from dbdseg.version import __version__
        return __version__
    except Exception:  # noqa: BLE001
        return None


def _same_teacher(old, new):
    """Whether an existing teacher.json describes the same teacher and options as ``new``."""
    try:
        return (old['teacher']['checkpoint_sha256'] == new['teacher']['checkpoint_sha256']
                and old['teacher'].get('cfg_options', {}) == new['teacher']['cfg_options']
                and all(old['options'].get(k) == new['options'][k] for k in _SIGNATURE_OPTIONS))
    except (KeyError, TypeError):
        return False


# ---------------------------------------------------------------------------- main
def run(argv=None):
    """Write the maps; see the module docstring. Returns 0 (errors raise ConversionError)."""
    args = parse_args(argv)
    if args.channel < 0:
        raise cu.ConversionError(f'--channel must be >= 0, got {args.channel}')
    img_dir, out = osp.abspath(args.images), osp.abspath(args.out)
    if osp.realpath(out) == osp.realpath(img_dir) or osp.realpath(out).startswith(
            osp.realpath(img_dir).rstrip(os.sep) + os.sep):
        raise cu.ConversionError(f'--out {out!r} must not be the image folder or lie inside it')
    if osp.exists(out) and not osp.isdir(out):
        raise cu.ConversionError(f'--out {out!r} exists and is not a folder')
    jobs = list_image_stems(img_dir, args.img_suffix, args.split_file)
    targets = [(stem, path, osp.join(out, stem + '.png')) for stem, path in jobs]
    existing = [t for _, _, t in targets if osp.exists(t)]
    json_path = osp.join(out, TEACHER_JSON)
    if existing and not (args.skip_existing or args.overwrite):
        raise cu.ConversionError(
            f'{len(existing)} of the {len(targets)} depth map(s) already exist, e.g. '
            f'{cu.listing(existing, 5)}; nothing was written. Pass --skip-existing to keep them '
            'and write the missing ones, --overwrite to recompute all, or choose another --out')

    teacher = Teacher(args.config, args.checkpoint, args.device, args.cfg_options, args.channel,
                      args.activation)
    record = teacher_record(args, teacher.model_types)
    if args.skip_existing and (existing or osp.exists(json_path)):
        old = None
        if osp.exists(json_path):
            with open(json_path, encoding='utf-8') as f:
                old = json.load(f)
        if old is None or not _same_teacher(old, record):
            who = (f'{old["teacher"].get("name")!r} ({old["teacher"].get("checkpoint")})'
                   if isinstance(old, dict) and 'teacher' in old else 'an unknown teacher (no '
                   f'{TEACHER_JSON})')
            raise cu.ConversionError(
                f'--skip-existing: the maps in {out!r} were made by {who} or with other options; '
                'one folder must not mix teachers. Use --overwrite or another --out')
    todo = targets if not args.skip_existing else [t for t in targets if not osp.exists(t[2])]

    unreadable, written = [], 0
    for stem, img_path, out_path in cu.progress_iter(
            todo, total=len(todo), desc='teacher depth', enabled=not args.no_progress):
        try:
            raw = teacher.predict(img_path)
        except (ValueError, FileNotFoundError):
            unreadable.append(img_path)
            continue
        depth = normalize_depth(raw, args.normalize, args.invert)
        write_png_atomic(out_path, to_uint16(depth))
        written += 1

    n_maps = sum(1 for _, _, t in targets if osp.exists(t))
    record.update(
        maps=n_maps,
        dbdseg_version=_dbdseg_version(),
        created=datetime.datetime.now().astimezone().isoformat(timespec='seconds'))
    cu.write_json_atomic(json_path, record)
    print(f'wrote {written} depth map(s) to {out} (skipped {len(targets) - len(todo)} existing); '
          f'teacher {record["teacher"]["name"]!r} recorded in {json_path}')
    print(f'  use: data_prefix=dict(..., depth_map_path={osp.relpath(out)!r})')
    if unreadable:
        raise cu.ConversionError(f'{len(unreadable)} image(s) cannot be decoded and got no map: '
                                 f'{cu.listing(unreadable, MAX_LISTED)}')
    return 0


def main(argv=None):
    """Entry point: returns 0 on success, 2 on an error (message on stderr)."""
    return cu.convert_main(run, argv)


if __name__ == '__main__':
    sys.exit(main())
