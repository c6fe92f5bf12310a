"""The input images and videos of a folder-to-folder inference run and the files each one writes.

``tools/infer.py`` writes, for every input image ``<stem>.<ext>`` (:data:`OUTPUT_SUFFIXES`),
``<out_dir>/<stem>.png`` (the 8-bit probability map), ``<out_dir>/<stem>_overlay.jpg`` (the
heat-map overlay, unless turned off), and on request ``<stem>_mask.png`` (the thresholded map,
0/255) and ``<stem>_depth.png`` (the 16-bit depth side output). With ``recursive=True`` the stem of
an image in a sub-folder of an input folder is its relative path (``day1/IMG_1``), so the outputs
keep the sub-folders. A video ``<stem>.<ext>`` (:data:`VIDEO_EXTENSIONS`) writes
``<stem>_map.mp4`` / ``<stem>_overlay.mp4`` / ``<stem>_mask.mp4`` (:data:`VIDEO_OUTPUT_SUFFIXES`)
and/or per-frame files under ``<stem>/`` (``<stem>/000000.png``, ...).

* :func:`collect_images` expands the inputs before any model is loaded: hidden files are never
  images (also when named on their own), outputs of an earlier run in the output folder are not
  inputs, the outputs of two inputs never collide and no output replaces an input.
* :class:`InferenceOutputFolder` writes the outputs: each file is staged in a hidden folder of
  this process, ``<out_dir>/.dbdseg-infer.<host>.<pid>.<random>.staging``, then moved into place
  with ``os.replace`` (atomic: an interrupted run never leaves a partial file under a final name,
  nor replaces a finished output with one). The staging folder is removed on every exit,
  exceptions included (and signals, with :func:`dbdseg.apis.output_guard.exit_on_signals`); a
  folder left by a killed process (SIGKILL, power loss) is removed by the next run in that output
  folder once its process is dead, never while it lives.
* Every committed file is recorded in ``<out_dir>/.dbdseg-infer-outputs.jsonl`` (one JSON line:
  path relative to ``out_dir``, size, modification time, inode), so that a later run into the
  same folder (e.g. the input folder itself) knows its own maps and overlays from the user's
  photos: a recorded file that is unchanged is an output, not an input; a file the user changed
  or replaced is a photo again.
  Any other existing file an output would replace is listed by :func:`foreign_outputs` (the tool
  refuses to replace it without ``--overwrite``).
"""
import json
import os
import os.path as osp
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from dbdseg.utils.fileio import (IMG_EXTENSIONS, atomic_write_text, encode_image, is_hidden,
                                 is_image_file, list_images, prob_to_uint8)

__all__ = [
    'InferenceOutputFolder', 'OUTPUT_SUFFIXES', 'RECORD_NAME', 'VIDEO_EXTENSIONS',
    'VIDEO_OUTPUT_SUFFIXES', 'collect_images', 'encode_image_outputs', 'encode_outputs',
    'foreign_outputs', 'infer_output_paths', 'is_video_file', 'job_output_paths',
    'recorded_outputs', 'remove_stale_staging'
]

#: File (in the output folder) that records the outputs tools/infer.py wrote there.
RECORD_NAME = '.dbdseg-infer-outputs.jsonl'
_STAGING_PREFIX = '.dbdseg-infer.'
_STAGING_SUFFIX = '.staging'

#: What an image ``<stem>.<ext>`` writes: output kind -> ``<out_dir>/<stem><suffix>``.
OUTPUT_SUFFIXES = dict(map='.png', overlay='_overlay.jpg', mask='_mask.png', depth='_depth.png')
#: What a video ``<stem>.<ext>`` writes as videos (MPEG-4 Part 2, ``mp4v``, OpenCV's writer).
VIDEO_OUTPUT_SUFFIXES = dict(map='_map.mp4', overlay='_overlay.mp4', mask='_mask.mp4')
#: File suffixes (lower case) read as videos, frame by frame with OpenCV.
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
#: Output kinds of every run unless asked otherwise (``--no-overlay``, ``--save-mask``, ...).
DEFAULT_KINDS = ('map', 'overlay')


def is_video_file(path: str) -> bool:
    """True when ``path`` is not hidden and its lower-case suffix is in :data:`VIDEO_EXTENSIONS`."""
    return is_image_file(path, VIDEO_EXTENSIONS)


def job_output_paths(out_dir: str,
                     stem: str,
                     kinds: Sequence[str] = DEFAULT_KINDS,
                     video: bool = False,
                     frames: bool = False) -> Dict[str, str]:
    """The files one input writes, by output kind.

    Args:
        out_dir (str): the output folder.
        stem (str): the input's path relative to its input folder without suffix, ``/``-separated
            (``IMG_1`` or ``day1/IMG_1``).
        kinds (Sequence[str]): output kinds, keys of :data:`OUTPUT_SUFFIXES`. Defaults to
            ``('map', 'overlay')``.
        video (bool): the input is a video: its video outputs (:data:`VIDEO_OUTPUT_SUFFIXES`;
            ``depth`` has no video form and is left out). Defaults to False.
        frames (bool): (videos) also the folder ``<out_dir>/<stem>`` of per-frame files, as key
            ``'frames'``. Defaults to False.

    Returns:
        dict[str, str]: kind -> path, in the order of ``kinds``.

    Raises:
        KeyError: an unknown kind.
    """
    base = osp.join(out_dir, *stem.split('/'))
    if not video:
        return {k: base + OUTPUT_SUFFIXES[k] for k in kinds}
    for k in kinds:
        OUTPUT_SUFFIXES[k]  # noqa: B018 - KeyError for an unknown kind
    paths = {k: base + VIDEO_OUTPUT_SUFFIXES[k] for k in kinds if k in VIDEO_OUTPUT_SUFFIXES}
    if frames:
        paths['frames'] = base
    return paths


def infer_output_paths(out_dir: str, stem: str) -> Tuple[str, str]:
    """The files written for an input image named ``<stem>.<ext>``.

    Args:
        out_dir (str): the output folder.
        stem (str): the image file name without its suffix.

    Returns:
        tuple[str, str]: ``(<out_dir>/<stem>.png, <out_dir>/<stem>_overlay.jpg)``: the
        probability map and the overlay.
    """
    return osp.join(out_dir, f'{stem}.png'), osp.join(out_dir, f'{stem}_overlay.jpg')


# ------------------------------------------------------------------------------ output record
def _stat_key(path: str) -> Optional[list]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _safe_relpath(name: str) -> bool:
    """A ``/``-separated relative path without ``.``, ``..`` or empty parts."""
    parts = name.split('/')
    return bool(name) and not osp.isabs(name) and all(p not in ('', '.', '..') for p in parts)


def _read_record(out_dir: str) -> List[list]:
    """The lines of the output record as ``[name, size, mtime_ns, inode]`` (bad lines, e.g. the
    last line of a killed run, are left out)."""
    try:
        with open(osp.join(out_dir, RECORD_NAME), encoding='utf-8') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    entries = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                and _safe_relpath(entry[0])):
            entries.append(entry)
    return entries


def recorded_outputs(out_dir: str) -> Set[str]:
    """Real paths of the files in ``out_dir`` that ``tools/infer.py`` wrote and that are unchanged
    since (same size, modification time and inode as recorded).

    Args:
        out_dir (str): the output folder (a missing folder or record: none).

    Returns:
        set[str]: ``os.path.realpath`` of each such file.
    """
    found = set()
    for name, *key in _read_record(out_dir):
        path = osp.join(out_dir, *name.split('/'))
        if _stat_key(path) == key:
            found.add(osp.realpath(path))
    return found


def foreign_outputs(out_dir: str, paths: Sequence[str]) -> List[str]:
    """The ``paths`` that exist and are not unchanged outputs of an earlier run in ``out_dir``
    (:func:`recorded_outputs`): files a run would replace that it never wrote.

    Args:
        out_dir (str): the output folder.
        paths (Sequence[str]): the files the run is about to write (folders: anything in them).

    Returns:
        list[str]: those paths, in the given order.
    """
    own = recorded_outputs(out_dir)
    found = []
    for path in paths:
        if osp.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found += [
                    osp.join(root, n) for n in sorted(files)
                    if osp.realpath(osp.join(root, n)) not in own
                ]
        elif osp.lexists(path) and osp.realpath(path) not in own:
            found.append(path)
    return found


# ------------------------------------------------------------------------------ inputs
def _list_inputs(item: str, recursive: bool, videos: bool) -> List[Tuple[str, str]]:
    """``(path, stem)`` of one input: a file (any suffix), or a folder's images (and videos)."""
    if not osp.isdir(item):
        if not osp.isfile(item):
            raise FileNotFoundError(f'input not found: {item}')
        return [(item, osp.splitext(osp.basename(item))[0])]
    if not recursive:
        found = list_images(item)
        if videos:
            found = sorted(found + list_images(item, VIDEO_EXTENSIONS), key=osp.basename)
        return [(p, osp.splitext(osp.basename(p))[0]) for p in found]
    found = []
    for root, dirs, files in os.walk(item):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in sorted(files):
            path = osp.join(root, name)
            if is_image_file(name) or (videos and is_video_file(name)):
                rel = Path(osp.relpath(path, item)).as_posix()
                found.append((path, osp.splitext(rel)[0]))
    return found


def collect_images(inputs: Sequence[str],
                   out_dir: str,
                   skipped: Optional[List[Tuple[str, str]]] = None,
                   recursive: bool = False,
                   videos: bool = False,
                   kinds: Sequence[str] = DEFAULT_KINDS,
                   frames: bool = False) -> List[Tuple[str, str]]:
    """Expand files and folders into the images (and videos) to predict, with their output stems.

    Folders contribute their image files (:data:`dbdseg.utils.fileio.IMG_EXTENSIONS`, sorted by
    name, not hidden files), with ``videos`` also their video files (:data:`VIDEO_EXTENSIONS`),
    and with ``recursive`` those of their sub-folders (not hidden ones) too, whose stems are then
    relative paths (``day1/IMG_1``) so that the outputs keep the sub-folders (a folder's own
    files first, then its sub-folders by name). A file named on
    its own is taken whatever its suffix (a video suffix makes it a video). Not inputs (dbdseg's
    one rule, :func:`dbdseg.utils.fileio.is_hidden`): hidden files (``.x.jpg``, macOS
    ``._x.jpg`` metadata), also when named on their own; and the unchanged outputs of an earlier
    run in ``out_dir`` (:func:`recorded_outputs`), so that ``out_dir`` may be an input folder run
    after run.

    Args:
        inputs (Sequence[str]): image / video files and/or folders.
        out_dir (str): the output folder (see :func:`job_output_paths`).
        skipped (list, optional): receives ``(path, reason)`` for each file named on its own that
            is not an input (hidden, or an output of an earlier run). Defaults to None.
        recursive (bool): search the sub-folders of input folders. Defaults to False.
        videos (bool): folders contribute their videos too. Defaults to False.
        kinds (Sequence[str]): the output kinds of the run, for the check that no output replaces
            an input. Defaults to ``('map', 'overlay')``.
        frames (bool): videos also write per-frame files (same check). Defaults to False.

    Returns:
        list[tuple[str, str]]: ``(path, stem)`` pairs in input order (:func:`is_video_file`
        tells videos).

    Raises:
        FileNotFoundError: an input does not exist (the message names it).
        ValueError: no image was found; two inputs have the same stem (they would write the same
            outputs; the message names both); or an output would replace an input (the message
            names the output, the input it belongs to and the input it would replace).
    """
    inputs = [os.fspath(i) for i in inputs]
    skipped = [] if skipped is None else skipped
    own = recorded_outputs(out_dir)
    named, found = set(), []
    for item in inputs:
        if osp.isfile(item) and is_hidden(item):
            skipped.append((item, 'a hidden file: hidden files are never read as images '
                            '(rename it to predict it)'))
            continue
        if osp.isfile(item):
            named.add(osp.realpath(item))
        found.extend(_list_inputs(item, recursive, videos))
    jobs, by_stem, seen = [], {}, set()
    for path, stem in found:
        real = osp.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if real in own:
            if real in named:
                skipped.append((path, f'an output of an earlier run in {out_dir}, not a photo'))
            continue
        if stem in by_stem:
            raise ValueError(f'two inputs have the same name "{stem}" and would write the same '
                             f'outputs: {by_stem[stem]} and {path}')
        by_stem[stem] = path
        jobs.append((path, stem))
    if not jobs:
        more = f' {" ".join(VIDEO_EXTENSIONS)}' if videos else ''
        raise ValueError(f'no images found in {" ".join(inputs)} '
                         f'(suffixes: {" ".join(IMG_EXTENSIONS)}{more}; hidden files are skipped)')
    inputs_real = {osp.realpath(p): p for p, _ in jobs}
    for path, stem in jobs:
        outs = job_output_paths(out_dir, stem, kinds, video=is_video_file(path), frames=frames)
        for out in outs.values():
            victim = inputs_real.get(osp.realpath(out))
            if victim is not None:
                raise ValueError(f'output {out} (of {path}) would overwrite the input image '
                                 f'{victim}; choose another --out-dir')
    return jobs


# ------------------------------------------------------------------------------ outputs
def encode_outputs(img: np.ndarray,
                   prob: np.ndarray,
                   paths: Tuple[str, str],
                   threshold: float = 0.5,
                   alpha: float = 0.5,
                   jpeg_quality: int = 90) -> Tuple[bytes, bytes]:
    """Encode the probability map (PNG) and the overlay (JPEG) of one image, writing nothing.

    Both are encoded before either is written, so an image whose overlay cannot be encoded
    (wider or higher than JPEG's 65,535 pixels) leaves no file at all.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        prob (np.ndarray): (H, W) float probability map in [0, 1].
        paths (tuple[str, str]): the two files (:func:`infer_output_paths`), named in errors.
        threshold (float): probability outlined in the overlay. Defaults to 0.5.
        alpha (float): weight of the heat map in the overlay, in [0, 1]. Defaults to 0.5.
        jpeg_quality (int): JPEG quality of the overlay, 0-100. Defaults to 90.

    Returns:
        tuple[bytes, bytes]: the PNG (``uint8(rint(prob * 255))``, grey) and the JPEG.

    Raises:
        ValueError: an image cannot be encoded (the message names its file).
    """
    import cv2

    from dbdseg.utils.visualization import heat_overlay, to_numpy_prob
    png = encode_image(paths[0], prob_to_uint8(to_numpy_prob(prob)))
    overlay = heat_overlay(img, prob, alpha=alpha, threshold=threshold)
    jpg = encode_image(paths[1], overlay, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    return png, jpg


def encode_image_outputs(img: np.ndarray,
                         prob: np.ndarray,
                         paths: Dict[str, str],
                         threshold: float = 0.5,
                         alpha: float = 0.5,
                         jpeg_quality: int = 90,
                         mask_threshold: Optional[float] = None) -> Dict[str, bytes]:
    """Encode the outputs of one image by kind (:func:`job_output_paths`), writing nothing.

    Every output is encoded before any is written, so an image with one output that cannot be
    encoded leaves no file at all.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        prob (np.ndarray): (H, W) float probability map in [0, 1].
        paths (dict[str, str]): kind -> file; kinds ``map`` (``uint8(rint(prob * 255))``, grey
            PNG), ``overlay`` (JPEG heat map), ``mask`` (grey PNG, 255 where ``prob >
            mask_threshold``, else 0). (The ``depth`` kind is written by
            :func:`dbdseg.apis.depth_output.write_depth_png`.)
        threshold (float): probability outlined in the overlay. Defaults to 0.5.
        alpha (float): weight of the heat map in the overlay, in [0, 1]. Defaults to 0.5.
        jpeg_quality (int): JPEG quality of the overlay, 0-100. Defaults to 90.
        mask_threshold (float, optional): threshold of the mask. Defaults to None: ``threshold``.

    Returns:
        dict[str, bytes]: kind -> encoded file, in the order of ``paths``.

    Raises:
        ValueError: an image cannot be encoded (the message names its file).
        KeyError: an unknown kind.
    """
    import cv2

    from dbdseg.utils.visualization import heat_overlay, to_numpy_prob
    prob = to_numpy_prob(prob)
    out = {}
    for kind, path in paths.items():
        if kind == 'map':
            out[kind] = encode_image(path, prob_to_uint8(prob))
        elif kind == 'overlay':
            overlay = heat_overlay(img, prob, alpha=alpha, threshold=threshold)
            out[kind] = encode_image(path, overlay, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        elif kind == 'mask':
            thr = threshold if mask_threshold is None else mask_threshold
            out[kind] = encode_image(path, np.where(prob > thr, 255, 0).astype(np.uint8))
        else:
            raise KeyError(f'unknown output kind {kind!r}')
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process / odd pid
        return True
    return True


def remove_stale_staging(out_dir: str) -> List[str]:
    """Remove the staging folders that dead processes of this host left in ``out_dir``.

    A staging folder is ``.dbdseg-infer.<host>.<pid>.<random>.staging``; it is stale when
    ``<host>`` is this host and no process ``<pid>`` runs (a reused pid keeps the folder until
    that process ends too). Folders of other hosts (a shared file system) are left alone.

    Args:
        out_dir (str): the output folder.

    Returns:
        list[str]: the removed folders.
    """
    host = socket.gethostname()
    removed = []
    try:
        names = os.listdir(out_dir)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(_STAGING_PREFIX) and name.endswith(_STAGING_SUFFIX)):
            continue
        parts = name[len(_STAGING_PREFIX):-len(_STAGING_SUFFIX)].rsplit('.', 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        path = osp.join(out_dir, name)
        if pid != os.getpid() and not _pid_alive(pid) and osp.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class InferenceOutputFolder:
    """The output folder of one inference run: staged, atomic, recorded writes.

    Use as a context manager (or call :meth:`open` first): entering creates ``out_dir`` (with
    missing parents), removes the staging folders of dead processes
    (:func:`remove_stale_staging`), drops stale lines from the record and creates this run's
    staging folder; leaving removes the staging folder, whatever the exit (see the module
    docstring).

    Args:
        out_dir (str): the output folder.

    Attributes:
        removed_stale (list[str]): staging folders of dead processes removed on entering.

    Raises:
        OSError: (on entering) the folder cannot be created or written; (in :meth:`write`) a file
            cannot be written (the message names it).
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.staging: Optional[str] = None
        self.removed_stale: List[str] = []

    def open(self) -> 'InferenceOutputFolder':
        """Prepare the folder (what entering the ``with`` block does; entering an opened folder
        does nothing more). Returns ``self``.

        Raises:
            OSError: the folder cannot be created or written.
        """
        if self.staging is None:
            os.makedirs(self.out_dir, exist_ok=True)
            self.removed_stale = remove_stale_staging(self.out_dir)
            self.staging = tempfile.mkdtemp(
                prefix=f'{_STAGING_PREFIX}{socket.gethostname()}.{os.getpid()}.',
                suffix=_STAGING_SUFFIX,
                dir=self.out_dir)
            try:
                self._compact_record()
            except BaseException:
                self.__exit__()
                raise
        return self

    def __enter__(self) -> 'InferenceOutputFolder':
        return self.open()

    def __exit__(self, *exc) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def _compact_record(self) -> None:
        """Keep the record lines that still describe a file (rewritten only when some do not)."""
        entries = _read_record(self.out_dir)
        keep: Dict[str, list] = {}
        for name, *key in entries:
            if _stat_key(osp.join(self.out_dir, name)) == key:
                keep[name] = [name, *key]
        if len(keep) != len(entries):
            text = ''.join(json.dumps(e) + '\n' for e in keep.values())
            atomic_write_text(osp.join(self.out_dir, RECORD_NAME), text, fsync=False)

    def _relname(self, path: str) -> str:
        """``path`` relative to ``out_dir``, ``/``-separated; ValueError when outside it."""
        if self.staging is None:
            raise RuntimeError('InferenceOutputFolder used outside its "with" block')
        folder = osp.realpath(self.out_dir)
        parent = osp.realpath(osp.dirname(osp.abspath(path)))
        rel = osp.relpath(osp.join(parent, osp.basename(path)), folder)
        name = Path(rel).as_posix()
        if not _safe_relpath(name) or osp.isabs(rel):
            raise ValueError(f'{path} is not in the output folder {self.out_dir}')
        return name

    def staged_path(self, path: str) -> str:
        """A file in this run's staging folder for ``path`` (a file in ``out_dir`` or one of its
        sub-folders): write it there (e.g. a video, frame by frame), then :meth:`commit`.

        Raises:
            ValueError: ``path`` is not in ``out_dir``.
        """
        name = self._relname(path)
        ext = osp.splitext(name)[1]
        return osp.join(self.staging, name.replace('/', '%2F').replace('.', '%2E')[:200] + ext)

    def commit(self, path: str) -> None:
        """Record the staged file of ``path`` (:meth:`staged_path`) and move it into place
        (``os.replace``), creating missing sub-folders of ``out_dir``.

        Raises:
            ValueError: ``path`` is not in ``out_dir``.
            OSError: the file cannot be committed (the message names ``path``); the staged file
                is removed.
        """
        name = self._relname(path)
        staged = self.staged_path(path)
        try:
            parent = osp.dirname(osp.abspath(path))
            if not osp.isdir(parent):
                os.makedirs(parent, exist_ok=True)
            line = json.dumps([name, *_stat_key(staged)]) + '\n'
            with open(osp.join(self.out_dir, RECORD_NAME), 'a', encoding='utf-8') as f:
                f.write(line)
            os.replace(staged, path)
        except (OSError, TypeError) as e:
            if osp.lexists(staged):
                os.unlink(staged)
            raise OSError(f'cannot write {path}: {e}') from e
        except BaseException:
            if osp.lexists(staged):
                os.unlink(staged)
            raise

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (a file in ``out_dir`` or one of its sub-folders): staged,
        recorded, then moved into place with ``os.replace``.

        Raises:
            ValueError: ``path`` is not in ``out_dir``.
            OSError: the file cannot be written (the message names ``path``); nothing is left
                behind but the staging folder, removed on leaving.
        """
        staged = self.staged_path(path)
        try:
            with open(staged, 'wb') as f:
                f.write(data)
        except OSError as e:
            if osp.lexists(staged):
                os.unlink(staged)
            raise OSError(f'cannot write {path}: {e}') from e
        except BaseException:
            if osp.lexists(staged):
                os.unlink(staged)
            raise
        self.commit(path)
