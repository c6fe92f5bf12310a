"""The input images of a folder-to-folder inference run and the files each one writes.

``tools/infer.py`` writes, for every input image ``<stem>.<ext>``, ``<out_dir>/<stem>.png`` (the
8-bit probability map) and ``<out_dir>/<stem>_overlay.jpg`` (the heat-map overlay).

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
  name, size, modification time, inode), so that a later run into the same folder (e.g. the input
  folder itself) knows its own maps and overlays from the user's photos: a recorded file that is
  unchanged is an output, not an input; a file the user changed or replaced is a photo again.
"""
import json
import os
import os.path as osp
import shutil
import socket
import tempfile
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from dbdseg.utils.fileio import (IMG_EXTENSIONS, atomic_write_text, encode_image, is_hidden,
                                 list_images, prob_to_uint8)

__all__ = [
    'InferenceOutputFolder', 'RECORD_NAME', 'collect_images', 'encode_outputs',
    'infer_output_paths', 'recorded_outputs', 'remove_stale_staging'
]

#: File (in the output folder) that records the outputs tools/infer.py wrote there.
RECORD_NAME = '.dbdseg-infer-outputs.jsonl'
_STAGING_PREFIX = '.dbdseg-infer.'
_STAGING_SUFFIX = '.staging'


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
                and osp.basename(entry[0]) == entry[0]):
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
        path = osp.join(out_dir, name)
        if _stat_key(path) == key:
            found.add(osp.realpath(path))
    return found


# ------------------------------------------------------------------------------ inputs
def collect_images(inputs: Sequence[str],
                   out_dir: str,
                   skipped: Optional[List[Tuple[str, str]]] = None) -> List[Tuple[str, str]]:
    """Expand files and folders into the images to predict, with their output stems.

    Folders contribute their image files (:data:`dbdseg.utils.fileio.IMG_EXTENSIONS`, sorted by
    name, not sub-folders, not hidden files); a file named on its own is taken whatever its
    suffix. Not inputs (dbdseg's one rule, :func:`dbdseg.utils.fileio.is_hidden`): hidden files
    (``.x.jpg``, macOS ``._x.jpg`` metadata), also when named on their own; and the unchanged
    outputs of an earlier run in ``out_dir`` (:func:`recorded_outputs`), so that ``out_dir`` may
    be an input folder run after run.

    Args:
        inputs (Sequence[str]): image files and/or folders.
        out_dir (str): the output folder (see :func:`infer_output_paths`).
        skipped (list, optional): receives ``(path, reason)`` for each file named on its own that
            is not an input (hidden, or an output of an earlier run). Defaults to None.

    Returns:
        list[tuple[str, str]]: ``(image path, stem)`` pairs in input order.

    Raises:
        FileNotFoundError: an input does not exist (the message names it).
        ValueError: no image was found; two inputs have the same stem (they would write the same
            outputs; the message names both); or an output would replace an input image (the
            message names the output, the input it belongs to and the input it would replace).
    """
    inputs = [os.fspath(i) for i in inputs]
    skipped = [] if skipped is None else skipped
    own = recorded_outputs(out_dir)
    named, images = set(), []
    for item in inputs:
        if osp.isfile(item) and is_hidden(item):
            skipped.append((item, 'a hidden file: hidden files are never read as images '
                            '(rename it to predict it)'))
            continue
        if osp.isfile(item):
            named.add(osp.realpath(item))
        images.extend(list_images(item))
    jobs, by_stem, seen = [], {}, set()
    for path in images:
        real = osp.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if real in own:
            if real in named:
                skipped.append((path, f'an output of an earlier run in {out_dir}, not a photo'))
            continue
        stem = osp.splitext(osp.basename(path))[0]
        if stem in by_stem:
            raise ValueError(f'two inputs have the same name "{stem}" and would write the same '
                             f'outputs: {by_stem[stem]} and {path}')
        by_stem[stem] = path
        jobs.append((path, stem))
    if not jobs:
        raise ValueError(f'no images found in {" ".join(inputs)} '
                         f'(suffixes: {" ".join(IMG_EXTENSIONS)}; hidden files are skipped)')
    inputs_real = {osp.realpath(p): p for p, _ in jobs}
    for path, stem in jobs:
        for out in infer_output_paths(out_dir, stem):
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

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (a file directly in ``out_dir``): staged, recorded, then
        moved into place with ``os.replace``.

        Raises:
            ValueError: ``path`` is not directly in ``out_dir``.
            OSError: the file cannot be written (the message names ``path``); nothing is left
                behind but the staging folder, removed on leaving.
        """
        if self.staging is None:
            raise RuntimeError('InferenceOutputFolder.write outside its "with" block')
        name = osp.basename(path)
        if osp.realpath(osp.dirname(osp.abspath(path))) != osp.realpath(self.out_dir):
            raise ValueError(f'{path} is not in the output folder {self.out_dir}')
        staged = osp.join(self.staging, name)
        try:
            with open(staged, 'wb') as f:
                f.write(data)
            line = json.dumps([name, *_stat_key(staged)]) + '\n'
            with open(osp.join(self.out_dir, RECORD_NAME), 'a', encoding='utf-8') as f:
                f.write(line)
            os.replace(staged, path)
        except OSError as e:
            if osp.lexists(staged):
                os.unlink(staged)
            raise OSError(f'cannot write {path}: {e}') from e
        except BaseException:
            if osp.lexists(staged):
                os.unlink(staged)
            raise
