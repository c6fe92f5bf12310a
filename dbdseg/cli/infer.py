"""Predict defocus-blur (in-focus) / saliency maps for your own photos and videos.

For every input image (files, or folders of image files (``dbdseg.utils.fileio.IMG_EXTENSIONS``),
sorted by name; any size; EXIF orientation applied) writes into ``--out-dir``:

* ``<stem>.png``: 8-bit probability map, ``round(prob * 255)`` (255 = in-focus / salient), at the
  orientation-corrected original size;
* ``<stem>_overlay.jpg``: the image with the probability as a colour heat map (JET: red = in-focus /
  salient) and the outline of ``prob > --threshold`` (``--no-overlay``: not written);
* ``<stem>_mask.png`` with ``--save-mask [THR]``: 255 where ``prob > THR`` (default
  ``--threshold``), else 0;
* ``<stem>_depth.png`` with ``--save-depth``: the depth side output of a depth distillation model
  (Cun & Pun, ECCV 2020), 16-bit (:func:`dbdseg.apis.depth_output.write_depth_png`).

``--recursive``: input folders are searched with their sub-folders (hidden ones excepted) and the
outputs keep the sub-folders (``in/day1/a.jpg`` -> ``<out-dir>/day1/a.png``).

``--batch-size N``: N images (or video frames) per forward pass; the maps do not depend on it.

``--max-side N``: compute the map at a resolution chosen from each image instead of the config's
fixed test size: aspect ratio kept, longer side at most N (never enlarged), sides multiples of
``--size-divisor`` (32). Without it a 1600 x 1200 photo's map is computed at the config's size
(e.g. 320 x 320) and upsampled. Why a resized whole image and not sliding windows at full
resolution: :func:`dbdseg.apis.inference.max_side_size`.

Videos (a file named on its own with a suffix of ``VIDEO_EXTENSIONS``, or those of folders with
``--videos``) are read frame by frame with OpenCV (no ``ffmpeg`` program needed) and write
``<stem>_map.mp4`` and ``<stem>_overlay.mp4`` (and ``<stem>_mask.mp4`` with ``--save-mask``),
``--video-output frames`` per-frame files ``<stem>/000000.png`` ... instead (exact maps; also
``_depth.png`` frames), ``both`` both (:mod:`dbdseg.apis.inference_video`).

Outputs are staged and moved into place atomically (``InferenceOutputFolder``); an interrupted
run (exception, Ctrl-C, SIGTERM, SIGHUP) leaves no partial or temporary file, and what a SIGKILLed
run left is removed by the next run once that process is dead. Same-stem inputs, an output that
would replace an input, an unreadable image or an unwritable output folder are errors naming the
files. An existing file that an output would replace and that is not an unchanged output of an
earlier run into the same folder is an error unless ``--overwrite`` is given. Hidden files
(``.x.jpg``, macOS ``._*``) are never inputs, also when named (a note says so), nor are the
unchanged outputs of an earlier run in ``--out-dir``, which may be the input folder
(:mod:`dbdseg.apis.inference_jobs`).

``--max-pixels N``: an image (or video frame) of more than N pixels (default 64 megapixels; 0: no
limit) is refused before decoding, from its header (a 31 KB PNG can decode to gigabytes).

``--skip-bad``: an image or video that cannot be read (empty, truncated, corrupt, not an image,
over ``--max-pixels``), predicted or encoded (an overlay JPEG over 65,535 pixels wide) is skipped
instead of stopping the run; the skipped files and the reasons are listed at the end (stderr),
and the exit status stays 0. Problems that are not about one input still stop the run.

``--crf``: refine each probability map with a fully connected CRF
(:func:`dbdseg.utils.crf.dense_crf` on the RGB image, A2S reference settings) before it is saved.

``--unsafe-load-trusted-checkpoint``: allow CHECKPOINT to be loaded with ``weights_only=False``
(arbitrary unpickling, runs code from the file): only for a file whose source you trust, that
holds Python objects other than tensors and plain data (:mod:`dbdseg.utils.checkpoint`).

Usage (``dbdseg infer``, ``python -m dbdseg infer`` and ``python tools/infer.py`` are the same)::

    dbdseg infer CONFIG CHECKPOINT|none INPUT [INPUT ...] --out-dir DIR
        [--device cpu|cuda] [--batch-size 1] [--threshold 0.5] [--overlay-alpha 0.5]
        [--no-overlay] [--save-mask [THR]] [--save-depth] [--recursive] [--max-side N]
        [--videos] [--video-output video|frames|both] [--crf] [--skip-bad] [--overwrite]
        [--max-pixels 64000000] [--unsafe-load-trusted-checkpoint] [--cfg-options k=v ...]

Only the standard library is imported at module level (``--help`` is fast); errors are
``<prog>: error: <message>`` with exit status 1.
"""
import argparse
import os.path as osp
import sys
import time
from typing import List, NamedTuple, Optional, Tuple

from dbdseg.cli._common import DictAction, add_checkout_to_path, add_common_prog, fail

__all__ = ['InferReport', 'add_arguments', 'execute', 'main', 'parse_args', 'run']

PROG = 'dbdseg infer'
#: ``dbdseg.apis.inference.DEFAULT_MAX_PIXELS`` (not imported: --help must stay fast).
DEFAULT_MAX_PIXELS = 64_000_000
VIDEO_OUTPUTS = ('video', 'frames', 'both')


class InferReport(NamedTuple):
    """What one run did.

    Attributes:
        written (list[str]): every file written, in order.
        skipped (list[tuple[str, str]]): ``(input, reason)`` skipped by ``--skip-bad``.
        inputs (int): images and videos predicted or skipped.
        frames (int): video frames predicted.
    """
    written: List[str]
    skipped: List[Tuple[str, str]]
    inputs: int
    frames: int


def _unit_interval(name):

    def parse(text):
        value = float(text)
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f'{name} must be in [0, 1], got {text}')
        return value

    return parse


def _positive_int(name, minimum=1):

    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f'{name} must be >= {minimum}, got {text}')
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``dbdseg infer`` / ``tools/infer.py`` to ``parser``."""
    add_common_prog(parser)
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" to load no weights')
    parser.add_argument(
        'inputs',
        nargs='+',
        metavar='INPUT',
        help='image or video files, or folders (their images: .jpg .jpeg .png .bmp .tif .tiff '
        '.webp .ppm .pgm .jp2)')
    parser.add_argument('--out-dir', required=True, help='output folder (created if missing)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default: cpu)')
    parser.add_argument(
        '--batch-size',
        type=_positive_int('--batch-size'),
        default=1,
        help='images (or video frames) per forward pass (default: 1)')
    parser.add_argument(
        '--threshold',
        type=_unit_interval('--threshold'),
        default=0.5,
        help='probability threshold outlined in the overlay (default: 0.5)')
    parser.add_argument(
        '--overlay-alpha',
        type=_unit_interval('--overlay-alpha'),
        default=0.5,
        help='weight of the heat map in the overlay (default: 0.5)')
    parser.add_argument(
        '--jpeg-quality', type=int, default=90, help='JPEG quality of the overlays (default: 90)')
    parser.add_argument(
        '--no-overlay', action='store_true', help='do not write the <stem>_overlay.jpg files')
    parser.add_argument(
        '--save-mask',
        nargs='?',
        type=_unit_interval('--save-mask'),
        const=-1.0,
        default=None,
        metavar='THR',
        help='also write <stem>_mask.png: 255 where the probability > THR (default: '
        '--threshold), else 0')
    parser.add_argument(
        '--save-depth',
        action='store_true',
        help='also write <stem>_depth.png: the depth side output (16-bit PNG) of a model that '
        'has one (depth distillation)')
    parser.add_argument(
        '-r',
        '--recursive',
        action='store_true',
        help='search input folders with their sub-folders; outputs keep the sub-folders')
    parser.add_argument(
        '--max-side',
        type=_positive_int('--max-side'),
        default=None,
        metavar='N',
        help='predict at the image\'s aspect ratio, longer side at most N pixels, instead of '
        'the config\'s fixed test size (default: the config\'s size)')
    parser.add_argument(
        '--size-divisor',
        type=_positive_int('--size-divisor'),
        default=32,
        help='with --max-side, sides are multiples of this (default: 32)')
    parser.add_argument(
        '--videos', action='store_true', help='input folders contribute their video files too')
    parser.add_argument(
        '--video-output',
        choices=VIDEO_OUTPUTS,
        default='video',
        help='videos write map videos (video), per-frame files in <stem>/ (frames) or both '
        '(default: video)')
    parser.add_argument(
        '--crf',
        action='store_true',
        help='refine each probability map with a dense CRF (dbdseg.utils.crf)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='skip inputs that cannot be read or predicted (listed at the end) '
        'instead of stopping')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing files in --out-dir that an earlier inference run there did not '
        'write')
    parser.add_argument(
        '--max-pixels',
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f'most pixels of an input image; 0: no limit (default: {DEFAULT_MAX_PIXELS})')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False (arbitrary unpickling); '
        'only for a file whose source you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config (key=value pairs)')


def parse_args(argv=None, prog: str = PROG) -> argparse.Namespace:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description='Predict in-focus / salient probability maps for images and videos')
    add_arguments(parser)
    return parser.parse_args(argv)


def _progress(items, total=None, unit='img'):
    try:
        from tqdm import tqdm
        return tqdm(items, total=total, desc='infer', unit=unit, file=sys.stderr)
    except ImportError:  # pragma: no cover
        return items


def _update(bar, n):
    if hasattr(bar, 'update'):
        bar.update(n)


def _close(bar):
    if hasattr(bar, 'close'):
        bar.close()


def _batches(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _Run:
    """The state of one run: the model, the output folder, what was written and skipped."""

    def __init__(self, args, model, out, kinds):
        self.args, self.model, self.out, self.kinds = args, model, out, kinds
        self.prog = getattr(args, 'prog', PROG)
        self.written: List[str] = []
        self.skipped: List[Tuple[str, str]] = []
        self.frames = 0
        self.crf = None
        if args.crf:
            try:
                from dbdseg.utils.crf import dense_crf
            except ImportError as e:
                fail(
                    self.prog, f'--crf needs dbdseg.utils.crf and pydensecrf (pip install '
                    f'pydensecrf2): {e}')
            self.crf = dense_crf

    # ------------------------------------------------------------------ prediction
    def predict(self, imgs, names):
        """``[(prob, depth or None)]`` for (H, W, 3) BGR arrays; errors name ``names``."""
        import numpy as np

        import dbdseg.apis as apis
        from dbdseg.utils.visualization import to_numpy_prob
        args = self.args
        try:
            results = apis.inference_model(
                self.model,
                list(imgs),
                threshold=args.threshold,
                max_side=args.max_side,
                size_divisor=args.size_divisor,
                with_depth=args.save_depth)
        except (RuntimeError, ValueError) as e:
            raise (ValueError if isinstance(e, ValueError) else
                   RuntimeError)(f'{names[0] if len(names) == 1 else ", ".join(names)}: {e}') from e
        out = []
        for img, name, result in zip(imgs, names, results):
            prob = to_numpy_prob(result.seg_logits.data)
            if self.crf is not None:
                try:
                    prob = self.crf(np.ascontiguousarray(img[:, :, ::-1]), prob)
                except (RuntimeError, ValueError) as e:
                    raise ValueError(f'{name}: {e}') from e
            depth = None
            if args.save_depth:
                depth = result.pred_depth.data[0].float().cpu().numpy()
            out.append((prob, depth))
        return out

    # ------------------------------------------------------------------ writing
    def write_image_outputs(self, img, prob, depth, paths):
        """Encode every output of one image, then write them (staged, atomic)."""
        from dbdseg.apis.inference_jobs import encode_image_outputs
        args = self.args
        mask_thr = None if args.save_mask is None or args.save_mask < 0 else args.save_mask
        encoded = encode_image_outputs(
            img,
            prob, {
                k: p
                for k, p in paths.items() if k != 'depth'
            },
            args.threshold,
            args.overlay_alpha,
            args.jpeg_quality,
            mask_threshold=mask_thr)
        for kind, path in paths.items():
            if kind == 'depth':
                self.write_depth(path, depth)
            else:
                self.out.write(path, encoded[kind])
            self.written.append(path)

    def write_depth(self, path, depth):
        import numpy as np

        from dbdseg.apis.depth_output import write_depth_png
        staged = self.out.staged_path(path)
        write_depth_png(staged, np.clip(np.nan_to_num(depth, nan=0.0), 0.0, 1.0))
        self.out.commit(path)

    def bad_input(self, path, error):
        """Record (``--skip-bad``) or stop on an input that cannot be read or predicted."""
        from dbdseg.apis.inference import ImageTooLargeError
        reason = str(error) if path in str(error) else f'{path}: {error}'
        if not self.args.skip_bad:
            more = ', or --max-pixels' if isinstance(error, ImageTooLargeError) else ''
            fail(self.prog, f'{reason} (use --skip-bad to skip such files{more})')
        self.skipped.append((path, reason))

    # ------------------------------------------------------------------ images
    def predict_ready(self, ready):
        """``[((path, stem, img), (prob, depth))]`` of the read images of one batch; when the
        batch fails, each image is predicted alone, so that the error names its image."""
        try:
            return list(zip(ready, self.predict([r[2] for r in ready], [r[0] for r in ready])))
        except (RuntimeError, ValueError) as e:
            if len(ready) == 1:
                self.bad_input(ready[0][0], e)
                return []
        done = []
        for item in ready:
            try:
                done.append((item, self.predict([item[2]], [item[0]])[0]))
            except (RuntimeError, ValueError) as e:
                self.bad_input(item[0], e)
        return done

    def images(self, jobs):
        """Read, predict (``--batch-size`` at a time) and write the outputs of image jobs."""
        from dbdseg.apis.inference import read_image
        from dbdseg.apis.inference_jobs import job_output_paths
        args = self.args
        bar = _progress(None, total=len(jobs))
        for batch in _batches(jobs, args.batch_size):
            ready = []
            for path, stem in batch:
                try:
                    ready.append((path, stem, read_image(path, max_pixels=args.max_pixels)))
                except (FileNotFoundError, ValueError) as e:
                    self.bad_input(path, e)
            for (path, stem, img), (prob, depth) in self.predict_ready(ready) if ready else []:
                paths = job_output_paths(args.out_dir, stem, self.kinds)
                try:
                    self.write_image_outputs(img, prob, depth, paths)
                except ValueError as e:
                    self.bad_input(path, e)
                except OSError as e:
                    fail(self.prog, str(e))
            _update(bar, len(batch))
        _close(bar)

    # ------------------------------------------------------------------ videos
    def video(self, path, stem):
        """Predict every frame of one video; write the map videos and/or frame files."""
        import cv2

        from dbdseg.apis.inference_jobs import job_output_paths
        from dbdseg.apis.inference_video import VideoMapWriter, read_video_frames, video_info
        from dbdseg.utils.fileio import prob_to_uint8
        from dbdseg.utils.visualization import heat_overlay
        args = self.args
        frames = args.video_output in ('frames', 'both')
        videos = args.video_output in ('video', 'both')
        paths = job_output_paths(args.out_dir, stem, self.kinds, video=True, frames=frames)
        writers, committed = {}, []
        try:
            info = video_info(path)
            size = (info['width'], info['height'])
            if videos:
                for kind, out_path in paths.items():
                    if kind != 'frames':
                        writers[kind] = VideoMapWriter(
                            self.out.staged_path(out_path), info['fps'], size)
            count = 0
            reader = read_video_frames(path, max_pixels=args.max_pixels)
            bar = _progress(None, total=info['frames'] or None, unit='frame')
            while True:
                batch = [f for _, (_, f) in zip(range(args.batch_size), reader)]
                if not batch:
                    break
                preds = self.predict(batch,
                                     [f'{path} frame {count + i}' for i in range(len(batch))])
                for img, (prob, depth) in zip(batch, preds):
                    if 'map' in writers:
                        writers['map'].write(prob_to_uint8(prob))
                    if 'overlay' in writers:
                        writers['overlay'].write(
                            heat_overlay(
                                img, prob, alpha=args.overlay_alpha, threshold=args.threshold))
                    if 'mask' in writers:
                        thr = args.threshold if args.save_mask < 0 else args.save_mask
                        writers['mask'].write(((prob > thr) * 255).astype('uint8'))
                    if frames:
                        frame_paths = job_output_paths(args.out_dir, f'{stem}/{count:06d}',
                                                       self.kinds)
                        self.write_image_outputs(img, prob, depth, frame_paths)
                    count += 1
                _update(bar, len(batch))
            _close(bar)
            for kind, writer in writers.items():
                writer.close()
                self.out.commit(paths[kind])
                committed.append(paths[kind])
        except (FileNotFoundError, ValueError, RuntimeError, cv2.error) as e:
            for writer in writers.values():
                writer.close()
            self.bad_input(path, e)
            return
        except OSError as e:
            fail(self.prog, str(e))
        finally:
            for writer in writers.values():
                writer.close()
        self.written += committed
        self.frames += count


def _kinds(args) -> Tuple[str, ...]:
    kinds = ['map']
    if not args.no_overlay:
        kinds.append('overlay')
    if args.save_mask is not None:
        kinds.append('mask')
    if args.save_depth:
        kinds.append('depth')
    return tuple(kinds)


def _check_args(args, prog):
    if not osp.isfile(args.config):
        fail(prog, f'config file not found: {args.config}')
    if args.max_pixels < 0:
        fail(prog, f'--max-pixels must be >= 0 (0: no limit), got {args.max_pixels}')
    if args.max_side is not None and args.max_side < args.size_divisor:
        fail(prog, f'--max-side must be >= --size-divisor ({args.size_divisor}), '
             f'got {args.max_side}')


def execute(args: argparse.Namespace) -> InferReport:
    """Run inference as parsed by :func:`parse_args`.

    Returns:
        InferReport: the files written and the inputs skipped.

    Raises:
        SystemExit: any error, as ``<prog>: error: <message>`` (names the file at fault).
    """
    prog = getattr(args, 'prog', PROG)
    _check_args(args, prog)
    add_checkout_to_path()
    from dbdseg.apis import init_model
    from dbdseg.apis.depth_output import depth_module
    from dbdseg.apis.inference_jobs import (OUTPUT_SUFFIXES, InferenceOutputFolder, collect_images,
                                            foreign_outputs, is_video_file, job_output_paths)
    from dbdseg.apis.output_guard import exit_on_signals
    from dbdseg.utils import register_all_modules
    from dbdseg.utils.checkpoint import (UnsafeCheckpointError, install_checkpoint_guard,
                                         trust_checkpoint)
    register_all_modules()
    install_checkpoint_guard()
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if checkpoint is not None and '://' not in checkpoint and not osp.isfile(checkpoint):
        fail(prog, f'checkpoint file not found: {checkpoint}')
    if args.unsafe_load_trusted_checkpoint:
        if checkpoint is None or '://' in checkpoint:
            fail(prog, '--unsafe-load-trusted-checkpoint needs a local CHECKPOINT file')
        trust_checkpoint(checkpoint)
    kinds = _kinds(args)
    frames = args.video_output in ('frames', 'both')
    notes = []
    try:
        jobs = collect_images(
            args.inputs,
            args.out_dir,
            skipped=notes,
            recursive=args.recursive,
            videos=args.videos,
            kinds=kinds,
            frames=frames)
    except (FileNotFoundError, ValueError) as e:
        fail(prog, str(e))
    for path, reason in notes:
        print(f'{prog}: not an input: {path}: {reason}', file=sys.stderr, flush=True)
    if not args.overwrite:
        planned = [
            p for path, stem in jobs for p in job_output_paths(
                args.out_dir, stem, kinds, video=is_video_file(path), frames=frames).values()
        ]
        foreign = foreign_outputs(args.out_dir, planned)
        if foreign:
            more = f' and {len(foreign) - 3} more' if len(foreign) > 3 else ''
            fail(
                prog, f'{len(foreign)} file(s) in {args.out_dir} would be replaced that no '
                f'earlier inference run there wrote: {", ".join(foreign[:3])}{more}; pass '
                '--overwrite to replace them, or choose another --out-dir')
    try:
        out = InferenceOutputFolder(args.out_dir).open()
    except OSError as e:
        fail(prog, f'cannot write to the output folder {args.out_dir}: {e}')
    with exit_on_signals(prog=prog), out:
        try:
            model = init_model(
                args.config, checkpoint, device=args.device, cfg_options=args.cfg_options)
        except (FileNotFoundError, RuntimeError, UnsafeCheckpointError) as e:
            fail(prog, str(e))
        if args.save_depth and depth_module(model) is None:
            fail(
                prog, f'--save-depth: the model of {args.config} has no depth output (only '
                'depth distillation heads, SABHead with use_depth=True, have one)')
        state = _Run(args, model, out, kinds)
        t0 = time.perf_counter()
        images = [(p, s) for p, s in jobs if not is_video_file(p)]
        if images:
            state.images(images)
        for path, stem in jobs:
            if is_video_file(path):
                state.video(path, stem)
    elapsed = time.perf_counter() - t0
    done = len(images) - len([p for p, _ in state.skipped if not is_video_file(p)])
    names = ', '.join(f'<stem>{OUTPUT_SUFFIXES[k]}' + (' probability x 255' if k == 'map' else '')
                      for k in kinds)
    crf = ', CRF-refined' if state.crf else ''
    per = f'{elapsed / max(done + state.frames, 1):.3f} s/image'
    vids = len(jobs) - len(images)
    video_note = f', {vids} video(s) ({state.frames} frames)' if vids else ''
    print(
        f'{done} image(s){video_note} -> {args.out_dir} ({len(state.written)} files: '
        f'{names}{crf}); {per} on {args.device}',
        flush=True)
    if state.skipped:
        lines = [f'{prog}: skipped {len(state.skipped)} of {len(jobs)} input(s) (--skip-bad):']
        lines += [f'  {path}: {reason}' for path, reason in state.skipped]
        print('\n'.join(lines), file=sys.stderr, flush=True)
    return InferReport(state.written, state.skipped, len(jobs), state.frames)


def run(args: argparse.Namespace) -> int:
    """Run inference (:func:`execute`); returns the exit status (0: done, also when
    ``--skip-bad`` skipped inputs)."""
    execute(args)
    return 0


def main(argv: Optional[List[str]] = None, prog: str = PROG) -> int:
    """Parse ``argv`` (defaults to ``sys.argv[1:]``) and run; returns the exit status."""
    return run(parse_args(argv, prog))


if __name__ == '__main__':
    sys.exit(main())
