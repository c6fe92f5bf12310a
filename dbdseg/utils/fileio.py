"""File handling shared by the whole package: atomic writes, image listing, 8-bit probability maps.

One home for what the tools and the package used to write several times over:

* **Atomic writes.** :func:`atomic_write_bytes` (and its text, JSON, image and copy forms) writes a
  hidden temporary file ``.<name>.<random>.tmp`` in the destination folder, flushes it and moves it
  over the destination with ``os.replace`` (:func:`commit_file`). A process killed at any point
  leaves the previous file (or none) and at worst a stray temporary file, never a partial file under
  the real name. The temporary file always ends in :data:`TMP_SUFFIX` and starts with a dot, so
  listers skip it (:func:`list_images` ignores hidden files).
* **Image listing.** :data:`IMG_EXTENSIONS` is the one list of image suffixes dbdseg reads;
  :func:`list_images` expands files and folders, :func:`list_image_stems` lists a folder by stem.
* **8-bit probability maps.** :func:`prob_to_uint8` is the quantisation every saved prediction PNG
  uses (``uint8(rint(p * 255))``), the one :func:`dbdseg.evaluation.functional.image_sod_measures`
  applies with ``normalize_pred=True``, so a toolbox run on saved PNGs reproduces the metric.

This module imports only numpy and OpenCV (no torch, no mmseg), so worker processes stay light.
Python's and mmengine's file APIs have no atomic write, hence this module.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'IMG_EXTENSIONS', 'TMP_SUFFIX', 'OutputExistsError', 'atomic_copy', 'atomic_write_bytes',
    'atomic_write_json', 'atomic_write_text', 'claim_output', 'collect_images', 'commit_file',
    'encode_image', 'imwrite_atomic', 'is_hidden', 'is_image_file', 'list_image_stems',
    'list_images', 'prob_to_uint8'
]

PathLike = Union[str, os.PathLike]

#: File suffixes (lower case, with the dot) that dbdseg treats as images, everywhere.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.jp2')

#: Every temporary file of an atomic write is ``.<name>.<random>`` + this suffix.
TMP_SUFFIX = '.tmp'


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def commit_file(tmp_path: PathLike, path: PathLike, fsync: bool = True) -> None:
    """Move a fully written temporary file over ``path`` atomically (``os.replace``).

    Args:
        tmp_path (str | PathLike): the finished temporary file, in the same folder (file system)
            as ``path``.
        path (str | PathLike): the destination; an existing file is replaced in one step.
        fsync (bool): flush the file's data, then the folder entry, to disk (survives a power
            loss, not only a killed process). Defaults to True.

    Raises:
        OSError: the move fails (the message names both files); ``tmp_path`` is removed then.
    """
    tmp_path, path = os.fspath(tmp_path), os.fspath(path)
    try:
        if fsync:
            with open(tmp_path, 'rb') as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except OSError as e:
        if osp.exists(tmp_path):
            os.unlink(tmp_path)
        raise OSError(f'cannot move {tmp_path} to {path}: {e}') from e
    if fsync:
        _fsync_dir(osp.dirname(osp.abspath(path)))


def atomic_write_bytes(path: PathLike,
                       data: bytes,
                       fsync: bool = True,
                       mode: Optional[int] = None) -> None:
    """Write ``data`` to ``path`` so that ``path`` never holds a partial file.

    The bytes go to a temporary file ``.<name>.<random>.tmp`` in the same folder, which then
    replaces ``path`` (:func:`commit_file`). A process killed at any point leaves the previous
    ``path`` (or none) plus, at worst, a stray temporary file; any exception (also
    ``KeyboardInterrupt``) removes the temporary file.

    Args:
        path (str | PathLike): destination file; its folder is created if missing.
        data (bytes): the content.
        fsync (bool): see :func:`commit_file`. Defaults to True.
        mode (int, optional): permission bits. Defaults to ``0o666`` minus the umask (what
            ``open`` would give; ``mkstemp`` alone would give ``0o600``).

    Raises:
        OSError: the folder or file cannot be written (the message names ``path``).
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX, dir=folder)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp, (0o666 & ~_umask()) if mode is None else mode)
        commit_file(tmp, path, fsync=fsync)
    except OSError as e:
        if tmp is not None and osp.exists(tmp):
            os.unlink(tmp)
        if str(path) in str(e):
            raise
        raise OSError(f'cannot write {path}: {e}') from e
    except BaseException:
        if tmp is not None and osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike,
                      text: str,
                      encoding: str = 'utf-8',
                      fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` for text (e.g. mmengine's ``last_checkpoint`` record).

    Raises:
        OSError: see :func:`atomic_write_bytes`.
    """
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


def atomic_write_json(path: PathLike,
                      obj: Any,
                      indent: Optional[int] = 2,
                      fsync: bool = True,
                      **kwargs) -> None:
    """Write ``obj`` as JSON (UTF-8, a final newline) atomically.

    Args:
        path (str | PathLike): destination file.
        obj: anything ``json.dumps`` accepts with ``kwargs`` (e.g. ``default=str``).
        indent (int, optional): JSON indentation. Defaults to 2.
        fsync (bool): see :func:`commit_file`. Defaults to True.

    Raises:
        TypeError: ``obj`` is not JSON serialisable.
        OSError: see :func:`atomic_write_bytes`.
    """
    atomic_write_text(path, json.dumps(obj, indent=indent, **kwargs) + '\n', fsync=fsync)


def imwrite_atomic(path: PathLike,
                   img: np.ndarray,
                   params: Optional[Sequence[int]] = None,
                   fsync: bool = False) -> None:
    """Encode an image (format from the suffix of ``path``) and write it atomically.

    Args:
        path (str | PathLike): output file; a missing folder is created.
        img (np.ndarray): uint8 or uint16 (H, W) or (H, W, 3) BGR image.
        params (Sequence[int], optional): ``cv2.imencode`` parameters (e.g. JPEG quality).
        fsync (bool): see :func:`commit_file`. Defaults to False (many small files; a killed
            process still never leaves a partial file).

    Raises:
        ValueError: OpenCV cannot encode the image in the format of ``path`` (names the file).
        OSError: the file cannot be written (names the file).
    """
    import cv2
    path = os.fspath(path)
    ext = osp.splitext(path)[1] or '.png'
    try:
        ok, buf = cv2.imencode(ext, img, list(params or []))
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f'cannot encode an image of shape {getattr(img, "shape", None)} as {ext} '
                         f'for {path}')
    atomic_write_bytes(path, buf.tobytes(), fsync=fsync)


def atomic_copy(src: PathLike, dst: PathLike, fsync: bool = False) -> None:
    """Copy ``src`` to ``dst`` byte for byte (with its permission bits) through a temporary file.

    Raises:
        FileNotFoundError: ``src`` does not exist.
        OSError: ``dst`` cannot be written (names the file).
    """
    src, dst = os.fspath(src), os.fspath(dst)
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(dst)}.', suffix=TMP_SUFFIX, dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)
        commit_file(tmp, dst, fsync=fsync)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def encode_image(path: PathLike, img: np.ndarray, params: Optional[Sequence[int]] = None) -> bytes:
    """Encode an image in the format of the suffix of ``path``, without writing anything.

    What :func:`imwrite_atomic` writes, for callers that must know that every file of an item
    can be encoded before they commit any of them.

    Args:
        path (str | PathLike): the file the bytes are for (its suffix picks the format; none:
            PNG); only named in the error.
        img (np.ndarray): uint8 or uint16 (H, W) or (H, W, 3) BGR image.
        params (Sequence[int], optional): ``cv2.imencode`` parameters (e.g. JPEG quality).

    Returns:
        bytes: the encoded file.

    Raises:
        ValueError: OpenCV cannot encode the image in that format (e.g. a JPEG wider or higher
            than 65,535 pixels); the message names ``path`` and the shape.
    """
    import cv2
    path = os.fspath(path)
    ext = osp.splitext(path)[1] or '.png'
    try:
        ok, buf = cv2.imencode(ext, img, list(params or []))
    except cv2.error:
        ok = False
    if not ok:
        is_jpeg = ext.lower() in ('.jpg', '.jpeg')
        limit = ' (JPEG allows at most 65,535 pixels a side)' if is_jpeg else ''
        raise ValueError(f'cannot encode an image of shape {getattr(img, "shape", None)} as {ext} '
                         f'for {path}{limit}')
    return buf.tobytes()


class OutputExistsError(FileExistsError, ValueError):
    """An output file exists and was not written by this run (see :func:`claim_output`).

    A :class:`FileExistsError` and a :class:`ValueError`, so command-line tools that turn
    ``ValueError`` into an error message report it as one.
    """


def claim_output(path: PathLike, written: set, overwrite: bool = False) -> str:
    """The one rule for output files: never replace a file this run did not write itself.

    Call it right before writing ``path``. A path written (claimed) earlier in this run may be
    written again (e.g. the predictions of every validation of one training run); an existing
    file that is not in ``written`` is refused unless ``overwrite`` is True.

    Args:
        path (str | PathLike): the file about to be written.
        written (set): the real paths (``os.path.realpath``) this run claimed so far; ``path``
            is added to it. The writer keeps one such set for the length of its run.
        overwrite (bool): allow replacing an existing file the run did not write (a tool's
            ``--overwrite``). Defaults to False.

    Returns:
        str: ``path``.

    Raises:
        OutputExistsError: ``path`` exists, this run did not write it and ``overwrite`` is
            False; the message names the file.
    """
    path = os.fspath(path)
    real = osp.realpath(path)
    if real not in written:
        if not overwrite and osp.lexists(path):
            raise OutputExistsError(f'{path} exists and was not written by this run; it is not '
                                    'replaced unless overwriting is asked for (--overwrite), or '
                                    'choose another output folder')
        written.add(real)
    return path


# --------------------------------------------------------------------------------------------
# Image listing
# --------------------------------------------------------------------------------------------
def is_hidden(name: PathLike) -> bool:
    """True when the file name of ``name`` starts with a dot (``.x.jpg``, macOS ``._x.jpg``).

    dbdseg's one rule for hidden files: they are never images (:func:`is_image_file`,
    :func:`list_images`, :func:`list_image_stems`), also when named on their own by a tool.
    """
    base = osp.basename(osp.normpath(os.fspath(name)))
    return base.startswith('.') and base not in ('.', '..')


def is_image_file(name: PathLike, suffixes: Sequence[str] = IMG_EXTENSIONS) -> bool:
    """True when ``name`` is not hidden and its lower-case suffix is in ``suffixes``."""
    base = osp.basename(os.fspath(name))
    return not base.startswith('.') and osp.splitext(base)[1].lower() in suffixes


def list_images(inputs: Union[PathLike, Iterable[PathLike]],
                suffixes: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """Expand files and folders into a list of image files.

    A folder contributes its files (not sub-folders, not hidden files) whose lower-case suffix is
    in ``suffixes``, sorted by name; a file is taken as given, whatever its suffix. Duplicates
    (same real path) are kept once, in first-seen order.

    Args:
        inputs (str | PathLike | Iterable): one file or folder, or several.
        suffixes (Sequence[str]): image suffixes with the dot, lower case. Defaults to
            :data:`IMG_EXTENSIONS`.

    Returns:
        list[str]: image file paths.

    Raises:
        FileNotFoundError: an input does not exist (the message names it).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    suffixes = tuple(s.lower() for s in suffixes)
    out, seen = [], set()
    for item in inputs:
        item = os.fspath(item)
        if osp.isdir(item):
            files = [
                osp.join(item, n) for n in sorted(os.listdir(item))
                if is_image_file(n, suffixes) and osp.isfile(osp.join(item, n))
            ]
        elif osp.isfile(item):
            files = [item]
        else:
            raise FileNotFoundError(f'input not found: {item}')
        for f in files:
            key = osp.realpath(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def collect_images(inputs: Iterable[PathLike],
                   outputs_of: Callable[[str], Sequence[PathLike]],
                   what: str = 'outputs',
                   hint: str = 'another output folder') -> List[Tuple[str, str]]:
    """Expand image files and folders into ``(image path, stem)`` jobs whose outputs are safe.

    The inputs are expanded by :func:`list_images`. Every image must have its own stem (two
    inputs ``a/x.jpg`` and ``b/x.png`` would write the same outputs), and no output
    ``outputs_of(stem)`` may be one of the input images (nothing already written is lost).

    Args:
        inputs (Iterable[str | PathLike]): image files and/or folders.
        outputs_of (Callable[[str], Sequence]): the files a job writes for a stem.
        what (str): what the outputs are, for the messages. Defaults to ``'outputs'``.
        hint (str): what to change, for the message of an output that is an input. Defaults
            to ``'another output folder'``.

    Returns:
        list[tuple[str, str]]: ``(image path, stem)`` pairs in input order.

    Raises:
        FileNotFoundError: an input does not exist (the message names it).
        ValueError: no image was found; two inputs have the same stem (the message names both);
            or an output would overwrite an input image (the message names both).
    """
    inputs = [os.fspath(i) for i in inputs]
    images = list_images(inputs)
    if not images:
        raise ValueError(f'no images found in {" ".join(inputs)} '
                         f'(suffixes: {" ".join(IMG_EXTENSIONS)})')
    by_stem = {}
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in by_stem:
            raise ValueError(f'two inputs have the same name "{stem}" and would write the same '
                             f'{what}: {by_stem[stem]} and {path}')
        by_stem[stem] = path
    inputs_real = {osp.realpath(p): p for p in images}
    for stem, path in by_stem.items():
        for out in outputs_of(stem):
            victim = inputs_real.get(osp.realpath(out))
            if victim is not None:
                raise ValueError(f'output {os.fspath(out)} of {path} would overwrite the input '
                                 f'image {victim}; choose {hint}')
    return [(p, s) for s, p in by_stem.items()]


def list_image_stems(folder: PathLike,
                     suffix: Optional[str] = None,
                     recursive: bool = False) -> List[str]:
    """Stems of the image files in ``folder``, sorted.

    Args:
        folder (str | PathLike): the folder.
        suffix (str, optional): only files ending in this (e.g. ``'.jpg'``, case-sensitive); the
            stem is the name without it. Defaults to None: any suffix of :data:`IMG_EXTENSIONS`.
        recursive (bool): include sub-folders; stems are then relative paths with ``/``
            (``a/b/0001``). Defaults to False.

    Returns:
        list[str]: sorted stems.

    Raises:
        FileNotFoundError: ``folder`` is not a folder (the message names it).
    """
    folder = os.fspath(folder)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder not found: {folder}')
    stems = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.')) if recursive else []
        rel = osp.relpath(root, folder)
        for name in files:
            if name.startswith('.'):
                continue
            if suffix is not None:
                if not name.endswith(suffix):
                    continue
                stem = name[:-len(suffix)] if suffix else name
            elif is_image_file(name):
                stem = osp.splitext(name)[0]
            else:
                continue
            stems.append(stem if rel == '.' else Path(rel, stem).as_posix())
    return sorted(stems)


# --------------------------------------------------------------------------------------------
# 8-bit probability maps
# --------------------------------------------------------------------------------------------
def prob_to_uint8(prob: np.ndarray) -> np.ndarray:
    """Quantise a probability map to 8 bits: ``uint8(rint(prob * 255))``.

    Rounds to the nearest integer, halves to even (``numpy.rint``, as OpenCV's ``saturate_cast``
    does when it writes a float image), so 0.5 -> 128 and 0.999 -> 255; values are computed in
    float64 and clipped to [0, 255].

    Args:
        prob (np.ndarray): probabilities in [0, 1], any shape, any float dtype.

    Returns:
        np.ndarray: uint8 array of the same shape, values in [0, 255].
    """
    scaled = np.rint(np.asarray(prob, dtype=np.float64) * 255)
    return np.clip(scaled, 0, 255).astype(np.uint8)
