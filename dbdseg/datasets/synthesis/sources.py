"""Sharp source photos for the synthetic-defocus generator.

Two kinds of sources:

* :func:`bundled_scenes` - the real photos shipped inside installed packages, available offline
  (installed by ``tools/install.sh``): scikit-image's ``astronaut``, ``chelsea``, ``coffee``,
  ``rocket`` and the stereo pair ``motorcycle_left`` / ``motorcycle_right`` (one scene),
  scikit-learn's ``china.jpg`` and ``flower.jpg``, matplotlib's ``grace_hopper.jpg``.
* :func:`folder_scenes` - any folder of photos, optionally with object masks in a second folder
  paired by file stem. Each file stem is one scene (files sharing a stem, e.g. ``a.jpg`` and
  ``a.png``, form one scene).

A scene is the unit of the train/validation split: renders of one scene never go to both splits.
"""
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Union

import cv2
import numpy as np

from dbdseg.utils.fileio import IMG_EXTENSIONS, list_images

__all__ = [
    'Scene', 'IMAGE_EXTENSIONS', 'BUNDLED_ORIGINS', 'bundled_scenes', 'folder_scenes', 'read_image',
    'read_mask', 'ImageReadError'
]

#: File extensions (lower case) read as photos / masks.
IMAGE_EXTENSIONS = IMG_EXTENSIONS  # the one list of dbdseg.utils.fileio

#: Where each bundled scene comes from (package and file), in :func:`bundled_scenes` order.
BUNDLED_ORIGINS = {
    'astronaut': ['skimage.data.astronaut'],
    'chelsea': ['skimage.data.chelsea'],
    'coffee': ['skimage.data.coffee'],
    'rocket': ['skimage.data.rocket'],
    'motorcycle': ['skimage.data.stereo_motorcycle[left]', 'skimage.data.stereo_motorcycle[right]'],
    'china': ["sklearn.datasets.load_sample_image('china.jpg')"],
    'flower': ["sklearn.datasets.load_sample_image('flower.jpg')"],
    'grace_hopper': ["matplotlib.cbook.get_sample_data('grace_hopper.jpg')"],
}


class ImageReadError(ValueError):
    """A photo or mask file cannot be read; the message names the file."""


@dataclass
class Scene:
    """One scene: one or more photos of the same content (e.g. a stereo pair).

    Attributes:
        name (str): unique scene name (letters, digits, ``_ . -``), used in output file stems.
        images (list): uint8 ``HxWx3`` RGB arrays or paths of photo files (read lazily).
        masks (list): per image, an object mask (bool/uint8 ``HxW`` array, non-zero = object), a
            path of a mask file, or None. Same length as ``images``.
        origins (list[str]): human-readable origin of each image (file path or package function),
            recorded in ``render_params.json``.
    """
    name: str
    images: List[Union[np.ndarray, str]]
    masks: List[Optional[Union[np.ndarray, str]]] = field(default_factory=list)
    origins: List[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.images:
            raise ValueError(f'scene {self.name!r} has no images')
        if not self.masks:
            self.masks = [None] * len(self.images)
        if len(self.masks) != len(self.images):
            raise ValueError(f'scene {self.name!r}: {len(self.masks)} masks for {len(self.images)} '
                             'images')
        if not self.origins:
            self.origins = [
                img if isinstance(img, str) else f'{self.name}[{i}]'
                for i, img in enumerate(self.images)
            ]


def safe_scene_name(name):
    """Scene name usable in file stems: runs of characters other than ``A-Za-z0-9_.-`` become ``_``.
    """
    cleaned = re.sub(r'[^A-Za-z0-9_.-]+', '_', str(name)).strip('_')
    return cleaned or 'scene'


def read_image(path):
    """Read a photo as RGB.

    Args:
        path (str): image file (any format OpenCV decodes; grey and 16-bit images are converted,
            EXIF orientation applied, alpha dropped).

    Returns:
        np.ndarray: uint8 ``HxWx3`` RGB.

    Raises:
        ImageReadError: the file cannot be opened or decoded (message names the file).
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f'cannot read image file {path}: {exc}') from exc
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise ImageReadError(f'cannot decode image file {path} (not an image OpenCV can read)')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_mask(path):
    """Read an object mask: grey values > 127 are object (also taken for {0, 1} masks).

    Args:
        path (str): mask file.

    Returns:
        np.ndarray: bool ``HxW``.

    Raises:
        ImageReadError: unreadable file (message names the file).
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f'cannot read mask file {path}: {exc}') from exc
    m = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if m is None or m.size == 0:
        raise ImageReadError(f'cannot decode mask file {path} (not an image OpenCV can read)')
    if m.max() <= 1:
        return m > 0
    return m > 127


def _bundled_loaders():

    def skimage_loader(name):

        def load():
            import skimage.data
            return [getattr(skimage.data, name)()]

        return load

    def motorcycle():
        import skimage.data
        left, right, _ = skimage.data.stereo_motorcycle()
        return [left, right]

    def sklearn_loader(fname):

        def load():
            from sklearn.datasets import load_sample_image
            return [load_sample_image(fname)]

        return load

    def grace_hopper():
        from matplotlib import cbook
        path = cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)
        return [read_image(str(path))]

    return [
        ('astronaut', skimage_loader('astronaut')),
        ('chelsea', skimage_loader('chelsea')),
        ('coffee', skimage_loader('coffee')),
        ('rocket', skimage_loader('rocket')),
        ('motorcycle', motorcycle),
        ('china', sklearn_loader('china.jpg')),
        ('flower', sklearn_loader('flower.jpg')),
        ('grace_hopper', grace_hopper),
    ]


def bundled_scenes(names=None, strict=False):
    """The real photos bundled with scikit-image, scikit-learn and matplotlib (no network).

    Only files shipped inside the installed wheels are used (scikit-image reads these from its local
    data directory; nothing is downloaded). The motorcycle stereo pair is one scene.

    Args:
        names (list[str], optional): subset of scene names. Defaults to None (all of
            :data:`BUNDLED_ORIGINS`).
        strict (bool): raise instead of warning when a scene cannot be loaded.

    Returns:
        list[tuple[str, list[np.ndarray]]]: ``(scene_name, [uint8 HxWx3 RGB, ...])`` in a fixed
        order: astronaut, chelsea, coffee, rocket, motorcycle (2 images), china, flower,
        grace_hopper.

    Raises:
        ValueError: unknown name in ``names``.
        RuntimeError: no scene could be loaded (or, with ``strict``, one could not).
    """
    loaders = _bundled_loaders()
    known = [n for n, _ in loaders]
    if names is not None:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f'unknown bundled scene(s) {unknown}; available: {known}')
    scenes, failed = [], []
    for name, load in loaders:
        if names is not None and name not in names:
            continue
        try:
            images = [
                np.ascontiguousarray(np.asarray(im)[..., :3], dtype=np.uint8) for im in load()
            ]
        except Exception as exc:  # missing package or file: report which
            failed.append(f'{name} ({type(exc).__name__}: {exc})')
            continue
        scenes.append((name, images))
    if failed:
        msg = 'bundled photos that could not be loaded offline: ' + '; '.join(failed)
        if strict:
            raise RuntimeError(msg)
        warnings.warn(msg)
    if not scenes:
        raise RuntimeError('no bundled photo could be loaded (need scikit-image, scikit-learn or '
                           'matplotlib installed)')
    return scenes


def folder_scenes(src, masks_dir=None, skip_bad=False, check=True):
    """Scenes from a folder of photos (one scene per file stem).

    Args:
        src (str): folder of photos (extensions :data:`IMAGE_EXTENSIONS`, case-insensitive; other
            files and sub-folders are ignored).
        masks_dir (str, optional): folder of object masks ``<stem>.<ext>`` paired with the photos by
            stem; photos without a mask simply have none.
        skip_bad (bool): skip unreadable photos/masks (and masks whose size differs from the
            photo's) instead of raising; they are returned in ``bad``.
        check (bool): decode every photo (and mask) now, so a bad file fails before rendering
            starts.

    Returns:
        tuple: ``(scenes, bad)``: list of :class:`Scene` sorted by name (images as paths), and
        messages (str) naming the skipped files.

    Raises:
        FileNotFoundError: ``src`` (or ``masks_dir``) does not exist or is not a folder (message
            names it).
        ValueError: ``src`` holds no image files, or none readable (message names the folder).
        ImageReadError: an unreadable photo or mask, or a mask whose size differs from its photo's,
            without ``skip_bad`` (message names the file).
    """
    src = str(src)
    if not os.path.isdir(src):
        raise FileNotFoundError(f'source folder {src} does not exist or is not a folder')
    paths = list_images(src)
    if not paths:
        raise ValueError(f'source folder {src} contains no images (looked for '
                         f'{", ".join(IMAGE_EXTENSIONS)})')
    masks = {}
    if masks_dir is not None:
        masks_dir = str(masks_dir)
        if not os.path.isdir(masks_dir):
            raise FileNotFoundError(f'mask folder {masks_dir} does not exist or is not a folder')
        for p in list_images(masks_dir):
            masks.setdefault(os.path.splitext(os.path.basename(p))[0], p)
    groups, bad = {}, []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        mask_path = masks.get(stem)
        if check:
            try:
                img = read_image(path)
                if mask_path is not None:
                    m = read_mask(mask_path)
                    if m.shape != img.shape[:2]:
                        raise ImageReadError(f'mask file {mask_path} has size {m.shape} but image '
                                             f'file {path} has size {img.shape[:2]}')
            except ImageReadError as exc:
                if not skip_bad:
                    raise
                bad.append(str(exc))
                continue
        name = safe_scene_name(stem)
        if name in groups:
            groups[name].images.append(path)
            groups[name].masks.append(mask_path)
            groups[name].origins.append(path)
        else:
            groups[name] = Scene(name, [path], [mask_path], [path])
    if not groups:
        raise ValueError(
            f'source folder {src} contains no readable images ({len(bad)} unreadable: ' +
            '; '.join(bad) + ')')
    return [groups[k] for k in sorted(groups)], bad
