"""Loading of binary masks and extra per-image maps (docs/en/conventions.md)."""
import warnings
from typing import Optional

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from dbdseg.registry import TRANSFORMS

#: Data-info key of each extra per-image map -> results / data-sample field it is loaded into
#: (docs/en/conventions.md, "Datasets").
EXTRA_MAP_FIELDS = {
    'depth_map_path': 'gt_depth_map',
    'saliency_map_path': 'gt_saliency_map',
    'pseudo_label_path': 'gt_pseudo_label',
}


def decode_image_file(path: str,
                      imdecode_backend: str = 'cv2',
                      backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a file through mmengine fileio and decode it unchanged (bit depth and channels kept).

    Args:
        path (str): File path or URI.
        imdecode_backend (str): mmcv decoding backend. Defaults to ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.

    Returns:
        np.ndarray: (H, W) or (H, W, C) array as stored (uint8, uint16 or float32; colour in BGR(A)
        order, as mmcv returns it).

    Raises:
        FileNotFoundError: the file does not exist (raised by mmengine fileio, names the file).
        ValueError: ``cannot decode image <path>``: empty, truncated or non-image file.
    """
    content = fileio.get(path, backend_args=backend_args)
    return decode_image_bytes(content, path, imdecode_backend)


def decode_image_bytes(content: bytes,
                       path: str = '<bytes>',
                       imdecode_backend: str = 'cv2') -> np.ndarray:
    """Decode an encoded image unchanged (see :func:`decode_image_file`).

    Raises:
        ValueError: ``cannot decode image <path>``: empty, truncated or non-image content.
    """
    if not content:
        raise ValueError(f'cannot decode image {path!r}: the file is empty')
    try:
        img = mmcv.imfrombytes(content, flag='unchanged', backend=imdecode_backend)
    except Exception as e:  # cv2.error on empty buffers, PIL errors, ...
        raise ValueError(f'cannot decode image {path!r}: {e}') from e
    if img is None:
        raise ValueError(f'cannot decode image {path!r}: unreadable, truncated or corrupt image '
                         'file (or not an image)')
    return img


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def palette_png_to_grey(content: bytes, path: str = '<bytes>') -> Optional[np.ndarray]:
    """The grey mask of a palette (colour type 3) PNG, or None for any other file.

    OpenCV expands palette indices to their colours, which is right for grey palettes (a
    two-colour black/white PNG) but turns a VOC-style mask (index 1 = object, drawn dark red)
    into a dark grey that no threshold separates from the background. Rule (dbdseg's choice,
    documented in :class:`LoadBinaryAnnotations`):

    * the colours of all used indices are grey (R = G = B): the grey values (what OpenCV gives);
    * otherwise, used indices within {0, 1}: the indices themselves (1 = foreground);
    * otherwise: ValueError naming the file, the indices and their colours.

    Returns:
        np.ndarray | None: (H, W) uint8, or None when ``content`` is not a palette PNG.

    Raises:
        ValueError: a colour palette with indices other than 0 and 1 (not a binary mask).
    """
    if len(content) < 26 or content[:8] != _PNG_SIGNATURE or content[12:16] != b'IHDR' \
            or content[25] != 3:
        return None
    import io

    from PIL import Image
    try:
        with Image.open(io.BytesIO(content)) as im:
            im.load()
            if im.mode != 'P':
                return None
            idx = np.asarray(im, dtype=np.uint8)
            palette = np.asarray(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    except Exception as e:  # noqa: BLE001 - truncated / corrupt PNG
        raise ValueError(f'cannot decode image {path!r}: {e}') from e
    used = np.unique(idx)
    if used.size and int(used.max()) >= len(palette):
        palette = np.concatenate([palette, np.zeros((256 - len(palette), 3), np.uint8)])
    colours = palette[used]
    if np.all((colours[:, 0] == colours[:, 1]) & (colours[:, 1] == colours[:, 2])):
        lut = np.zeros(256, np.uint8)
        lut[:len(palette)] = palette[:, 0]
        return lut[idx]
    if set(used.tolist()) <= {0, 1}:
        return idx.copy()
    shown = ', '.join(f'{int(i)}: RGB{tuple(int(c) for c in palette[i])}' for i in used[:6])
    raise ValueError(f'mask {path!r} is a colour-palette PNG with indices {used.tolist()} '
                     f'({shown}{", ..." if used.size > 6 else ""}): not a binary mask. Save it as '
                     'grey 0/255 (255 = label 1), or as palette indices 0/1 (255 is not a label: '
                     "it is mmseg's ignore index)")


def alpha_or_grey(img: np.ndarray, path: str = '<array>') -> np.ndarray:
    """One channel of a decoded mask: the alpha channel when it carries the mask, else grey.

    A (H, W, 4) BGRA or (H, W, 2) grey+alpha mask whose alpha channel is not constant is a cutout
    (opaque = foreground, as image editors and background-removal tools save masks): its alpha is
    the mask. With a constant alpha the colour is converted to grey (:func:`to_grey`). Other
    shapes go to :func:`to_grey` unchanged. dbdseg's choice, see :class:`LoadBinaryAnnotations`.
    """
    if img.ndim == 3 and img.shape[2] in (2, 4):
        alpha = img[..., -1]
        if alpha.min() != alpha.max():
            return np.ascontiguousarray(alpha)
    return to_grey(img, path)


def to_grey(img: np.ndarray, path: str = '<array>') -> np.ndarray:
    """Convert a decoded map to one channel, keeping its dtype.

    (H, W) is returned as is; (H, W, 1) and (H, W, 2) (grey + alpha) keep channel 0; (H, W, 3) BGR
    and (H, W, 4) BGRA go through OpenCV's luminance conversion (alpha dropped).

    Raises:
        ValueError: any other shape (names ``path``).
    """
    if img.ndim == 2:
        return img
    if img.ndim == 3:
        channels = img.shape[2]
        if channels in (1, 2):
            return np.ascontiguousarray(img[..., 0])
        if channels == 3:
            return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if channels == 4:
            return cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f'map {path!r} has unsupported shape {img.shape}; expected (H, W) or '
                     '(H, W, C) with C in 1..4')


def to_8bit_scale(img: np.ndarray, path: str = '<array>') -> np.ndarray:
    """Express a grey map on the 8-bit scale [0, 255] (float64, not rounded for floats).

    uint8: as is. uint16: ``value / 257`` (65535 -> 255; 8-bit values stored as 16-bit, v * 257,
    map back exactly). bool: True -> 255. float: values in [0, 1] are multiplied by 255, values in
    [0, 255] are taken as 8-bit values.

    Raises:
        ValueError: another dtype, or float values outside [0, 255] (names ``path``).
    """
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 257.0
    if img.dtype == np.bool_:
        return img.astype(np.float64) * 255.0
    if np.issubdtype(img.dtype, np.floating):
        lo, hi = float(np.min(img)), float(np.max(img))
        if lo >= 0.0 and hi <= 1.0:
            return img.astype(np.float64) * 255.0
        if lo >= 0.0 and hi <= 255.0:
            return img.astype(np.float64)
        raise ValueError(f'map {path!r} has float values in [{lo}, {hi}], expected [0, 1] or '
                         '[0, 255]')
    raise ValueError(f'map {path!r} has unsupported dtype {img.dtype}; expected uint8, uint16, '
                     'bool or float')


def binarize_mask(mask: np.ndarray,
                  threshold: float = 128,
                  invert: bool = False,
                  path: str = '<array>') -> np.ndarray:
    """Turn a grey mask into labels {0, 1} (docs/en/conventions.md).

    A mask whose raw values are all 0 or 1 (any dtype) is taken as it is. Otherwise the mask is put
    on the 8-bit scale (:func:`to_8bit_scale`: 16-bit / 257) and pixels ``> threshold`` become 1,
    the others 0 (pysodmetrics' rule with the default 128: 128 -> 0, 129 -> 1). Then ``invert``
    flips 0 <-> 1.

    Args:
        mask (np.ndarray): (H, W) grey mask, uint8 / uint16 / bool / float.
        threshold (float): Threshold on the 8-bit scale. Defaults to 128.
        invert (bool): Flip the polarity after binarising. Defaults to False.
        path (str): File name for error messages.

    Returns:
        np.ndarray: (H, W) uint8 with values in {0, 1}; 255 never occurs.
    """
    if mask.ndim != 2:
        raise ValueError(f'mask {path!r} must be 2-D after grey conversion, got {mask.shape}')
    if np.all((mask == 0) | (mask == 1)):
        labels = mask.astype(np.uint8)
    else:
        labels = (to_8bit_scale(mask, path) > threshold).astype(np.uint8)
    if invert:
        labels = 1 - labels
    return labels


def check_mask_values(mask: np.ndarray,
                      threshold: float = 128,
                      path: str = '<array>',
                      max_index: float = 20) -> None:
    """Refuse masks that :func:`binarize_mask` would silently turn into wrong labels.

    * values not all 0/1 and none above ``threshold`` (8-bit scale) though some are above 0, when
      the mask looks like labels rather than a soft map: two values only ({0, v}: a binary mask
      whose foreground value is wrong, e.g. a colour mask dark in grey, pure red = 76), or a
      maximum of at most ``max_index`` (class indices such as {0, 1, 2}). A soft grey-level mask
      (three or more values, maximum above ``max_index``) whose values all stay at or below the
      threshold is real benchmark data (PASCAL-S has such masks): it becomes all background under
      the 128 rule of pysodmetrics, and a ``UserWarning`` naming the file says so;
    * 8-bit values 0, 1 and 255 together: 255 would become label 1 and 1 label 0; typically
      label indices with 255 as boundary / ignore.

    All-zero masks (no foreground) and 0/1, 0/255 or grey-level masks with pixels above the
    threshold pass.

    Args:
        mask (np.ndarray): (H, W) grey mask as read (uint8 / uint16 / bool / float).
        threshold (float): the binarisation threshold on the 8-bit scale.
        path (str): file name for the message.
        max_index (float): largest 8-bit value still read as a class index (default 20, a choice
            of dbdseg: no SOD/DBD benchmark mask we know has a faint soft map that dark).

    Raises:
        ValueError: one of the cases above; the message names the file and the values found.

    Warns:
        UserWarning: a soft grey-level mask with no value above the threshold (all background).
    """
    if np.all((mask == 0) | (mask == 1)):
        return
    scaled = to_8bit_scale(mask, path)
    hi = float(scaled.max())
    if 0.0 < hi <= threshold:
        values = np.unique(mask)
        shown = values[:8].tolist()
        if values.size >= 3 and hi > max_index:
            warnings.warn(
                f'mask {path!r} is a soft grey-level mask with values {shown}'
                f'{" ..." if values.size > 8 else ""} (8-bit scale max {hi:g}), none above the '
                f'threshold {threshold:g}: it is read as all background (the 128 rule of '
                'pysodmetrics and the SOD benchmarks)', UserWarning)
            return
        raise ValueError(
            f'mask {path!r} has values {shown}{" ..." if values.size > 8 else ""} (8-bit scale '
            f'max {hi:g}): not 0/1 and none above the threshold {threshold:g}, so it would be all '
            'background. A class-index or colour mask? dbdseg expects 0/1 or 0/255 masks (grey '
            f'levels > {threshold:g} = label 1): convert it, or set '
            'LoadBinaryAnnotations(check_values=False) to accept it as all background')
    if mask.dtype == np.uint8 and hi == 255.0 and bool((mask == 1).any()):
        values = np.unique(mask)
        if set(values.tolist()) <= {0, 1, 255}:
            raise ValueError(
                f'mask {path!r} has the values 0, 1 and 255 together: label indices with 255 as '
                'boundary / ignore? 255 would become label 1 and 1 label 0. Binary masks are 0/1 '
                'or 0/255; convert it, or set LoadBinaryAnnotations(check_values=False)')


#: Largest channel spread (max - min of B, G, R on the 8-bit scale) of a mask still read as grey,
#: and largest brightness (max of B, G, R) of a pixel read as black (dbdseg's choice: JPEG noise
#: on grey masks stays well below it).
COLOUR_TOLERANCE = 24
#: Smallest share of the non-black pixels (weighted by brightness) a colour must cover to count
#: as one of a mask's colours (dbdseg's choice: anti-aliased or JPEG edges between colours make a
#: few odd, mostly dark pixels).
MIN_COLOUR_SHARE = 0.005
_HUE_BIN = 6  # OpenCV hue units (2 degrees each) per bin: 12 degrees, 30 bins


def _colour_groups(bgr: np.ndarray, tolerance: float, min_share: float) -> list:
    """Colours of a uint8 BGR mask: a list of ``(weight, (r, g, b))``, one per hue cluster plus
    one for the lit grey pixels, heaviest first (see :func:`check_mask_colours`)."""
    wide = bgr.astype(np.int16)
    hi = wide.max(axis=2)
    spread = hi - wide.min(axis=2)
    lit = hi > tolerance
    chromatic = lit & (spread > np.maximum(8, 0.15 * hi))
    weight = hi.astype(np.float64)
    total = float(weight[lit].sum())
    hue_bin = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 0].astype(np.intp) // _HUE_BIN
    n_bins = 180 // _HUE_BIN
    hist = np.bincount(hue_bin[chromatic], weights=weight[chromatic], minlength=n_bins)
    occupied = hist >= min_share * total
    clusters = []  # runs of occupied neighbouring hue bins, circular (red wraps around)
    if occupied.all():
        clusters.append(np.arange(n_bins))
    elif occupied.any():
        start = int(np.argmin(occupied))  # an empty bin: no run crosses it
        run = []
        for k in range(1, n_bins + 1):
            b = (start + k) % n_bins
            if occupied[b]:
                run.append(b)
            elif run:
                clusters.append(np.array(run))
                run = []
    groups = []
    for bins in clusters:
        member = chromatic & np.isin(hue_bin, bins)
        groups.append((float(hist[bins].sum()), member))
    grey = lit & ~chromatic
    if grey.any() and float(weight[grey].sum()) >= min_share * total:
        groups.append((float(weight[grey].sum()), grey))
    out = []
    for w, member in sorted(groups, key=lambda g: -g[0]):
        pixels = bgr[member]
        b, g, r = (int(v) for v in pixels[int(np.argmax(pixels.max(axis=1)))])
        out.append((w, (r, g, b)))
    return out


def check_mask_colours(img: np.ndarray,
                       path: str = '<array>',
                       tolerance: float = COLOUR_TOLERANCE,
                       min_share: float = MIN_COLOUR_SHARE) -> None:
    """Refuse a colour mask with more than one non-black colour (objects drawn in several colours).

    A colour mask is read through its grey level (OpenCV's luminance), so objects of different
    colours get different labels: red (grey 76) becomes background while green (grey 150) becomes
    foreground. Rule (dbdseg's choice):

    * grey masks pass: every pixel's channel spread (max - min of B, G, R, 8-bit scale) is at most
      ``tolerance`` (JPEG noise on grey masks included); so do (H, W) and (H, W, 2) masks, and
      (H, W, 4) masks whose alpha channel is not constant (the alpha is then the mask, see
      :func:`alpha_or_grey`);
    * otherwise the non-black pixels (brightest channel above ``tolerance``) are sorted into
      colours: grey pixels (channel spread at most ``max(8, 0.15 * brightest channel)``) form one
      colour, the others are grouped by hue (OpenCV HSV hue in 12-degree bins; neighbouring
      occupied bins form one colour), so darker anti-aliased shades of a colour are that colour.
      A colour counts when it holds at least ``min_share`` of the non-black pixels weighted by
      their brightness (the few, mostly dark pixels where JPEG or anti-aliasing blends two colours
      do not);
    * two or more colours: ``ValueError``. One colour passes here; a single colour that is dark in
      grey (pure red, 76) is refused by :func:`check_mask_values`.

    Limits: two objects of the same hue and different brightness are one colour; a colour drawn
    on less than ``min_share`` of the mask is not counted; hues about 30 degrees apart (orange
    and red) can merge into one colour after strong JPEG compression.

    Args:
        img (np.ndarray): the decoded mask, (H, W) or (H, W, C), BGR(A) order as mmcv returns it,
            uint8 / uint16 / bool / float.
        path (str): file name for the message. Defaults to ``'<array>'``.
        tolerance (float): see above (8-bit scale). Defaults to :data:`COLOUR_TOLERANCE` (24).
        min_share (float): see above, in [0, 1]. Defaults to :data:`MIN_COLOUR_SHARE` (0.005).

    Raises:
        ValueError: a mask with two or more non-black colours; the message names the file, the
            colours (RGB of the brightest pixel of each), their grey levels and the labels
            (before ``invert``) they would get.
    """
    if img.ndim != 3 or img.shape[2] < 3:
        return
    if img.shape[2] == 4 and img[..., 3].min() != img[..., 3].max():
        return  # a cutout: the alpha channel is the mask
    bgr = img[..., :3]
    if bgr.dtype != np.uint8:
        bgr = np.rint(to_8bit_scale(bgr, path)).astype(np.uint8)
    bgr = np.ascontiguousarray(bgr)
    if np.array_equal(bgr[..., 0], bgr[..., 1]) and np.array_equal(bgr[..., 1], bgr[..., 2]):
        return  # exactly grey (the usual 3-channel mask): the cheap test first
    wide = bgr.astype(np.int16)
    if int((wide.max(axis=2) - wide.min(axis=2)).max()) <= tolerance:
        return
    groups = _colour_groups(bgr, tolerance, min_share)
    if len(groups) <= 1:
        return
    shown = []
    for _, (r, g, b) in groups[:4]:
        grey = 0.299 * r + 0.587 * g + 0.114 * b
        shown.append(f'RGB({r}, {g}, {b}) = grey {grey:.0f} -> label {int(grey > 128)}')
    raise ValueError(
        f'mask {path!r} is a colour mask with {len(groups)} colours ({"; ".join(shown)}'
        f'{"; ..." if len(groups) > 4 else ""}): not a binary mask. A colour mask is read '
        'through its grey level, so objects of different colours would get different labels. '
        'Save it as grey 0/255 (255 = label 1), or set LoadBinaryAnnotations(check_values=False) '
        'to read it by grey level anyway')


def map_to_float(img: np.ndarray, path: str = '<array>') -> np.ndarray:
    """Turn a grey extra map (depth, saliency, pseudo label) into float32 in [0, 1].

    uint8 / 255, uint16 / 65535, bool -> {0., 1.}; float maps must already lie in [0, 1].

    Raises:
        ValueError: another dtype, or float values outside [0, 1] (names ``path``).
    """
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    if img.dtype == np.uint16:
        return img.astype(np.float32) / np.float32(65535.0)
    if img.dtype == np.bool_:
        return img.astype(np.float32)
    if np.issubdtype(img.dtype, np.floating):
        lo, hi = float(np.min(img)), float(np.max(img))
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f'map {path!r} has float values in [{lo}, {hi}], expected [0, 1]')
        return img.astype(np.float32)
    raise ValueError(f'map {path!r} has unsupported dtype {img.dtype}; expected uint8, uint16, '
                     'bool or float')


def read_mask(path: str,
              backend_args: Optional[dict] = None,
              imdecode_backend: str = 'cv2',
              check_colours: bool = True) -> np.ndarray:
    """Read a mask file as one grey channel, by the rules of :class:`LoadBinaryAnnotations`.

    Palette PNGs by :func:`palette_png_to_grey`, other files decoded unchanged
    (:func:`decode_image_bytes`); with ``check_colours``, colour masks of several colours are
    refused (:func:`check_mask_colours`); then :func:`alpha_or_grey` (a non-constant alpha is the
    mask, colour goes to grey).

    Args:
        path (str): file path or URI.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
        imdecode_backend (str): mmcv decoding backend. Defaults to ``'cv2'``.
        check_colours (bool): refuse colour masks of several colours. Defaults to True.

    Returns:
        np.ndarray: (H, W) grey mask in the file's dtype (uint8, uint16, float32, ...), not yet
        binarised (:func:`binarize_mask` does that).

    Raises:
        FileNotFoundError: the file does not exist (names it).
        ValueError: an unreadable file, a colour palette with other indices than 0 and 1, a colour
            mask of several colours (each names the file).
    """
    content = fileio.get(path, backend_args=backend_args)
    grey = palette_png_to_grey(content, path)
    if grey is not None:
        return grey
    img = decode_image_bytes(content, path, imdecode_backend)
    if check_colours:
        check_mask_colours(img, path)
    return alpha_or_grey(img, path)


@TRANSFORMS.register_module()
class LoadBinaryAnnotations(BaseTransform):
    """Load a binary mask and the extra per-image maps of one sample (docs/en/conventions.md).

    Mask (when ``results['seg_map_path']`` is not None): read unchanged through mmengine fileio and
    :func:`mmcv.imfrombytes`, colour (3/4 channels) converted to grey, then binarised by
    :func:`binarize_mask`: values all in {0, 1} are kept, else (16-bit scaled to 8-bit by / 257)
    ``> threshold`` -> 1; then ``results['invert']`` (default False) flips 0 <-> 1. Stored as
    ``gt_seg_map``, (H, W) uint8 in {0, 1}. 255 never appears as a label; it stays mmseg's ignore
    index, written only by geometric transforms that pad. An unlabeled sample (``seg_map_path``
    missing or None) gets no ``gt_seg_map`` and no error.

    Unusual masks (dbdseg issue 9; conversions chosen by dbdseg, tested in
    ``tests/test_datasets/test_bad_input.py``):

    * palette PNGs (:func:`palette_png_to_grey`): grey palettes give their grey values (as
      OpenCV); a colour palette with indices 0/1 gives the indices (VOC-style masks); any other
      colour palette is an error naming the file;
    * RGBA / grey+alpha masks (:func:`alpha_or_grey`): a non-constant alpha channel is the mask
      (cutouts: opaque = foreground); with a constant alpha the colour is converted to grey;
    * 16-bit masks: / 257 to the 8-bit scale (existing rule);
    * with ``check_values`` (default), masks that binarising would silently get wrong are refused
      (:func:`check_mask_values`): a mask that is not 0/1 and has no value above the threshold
      though some above 0 (class indices {0, 1, 2}, dark colour masks, faint soft masks), and
      0/1/255 index masks; and colour masks with more than one non-black colour
      (:func:`check_mask_colours`: a red and a green object would get labels 0 and 1);
    * empty, truncated or non-image files: ``ValueError`` naming the file.

    EXIF orientation: masks are read as stored (OpenCV ignores EXIF when reading unchanged),
    while ``LoadImageFromFile`` rotates a photo by its EXIF Orientation tag; a mask must therefore
    be in the photo's display orientation. For a non-square photo a mask in the stored orientation
    fails the size check, whose message then points at the EXIF rotation; for a square photo it
    cannot be told apart.

    Extra maps: for each key of ``depth_map_path``, ``saliency_map_path``, ``pseudo_label_path``
    present (not None) in ``results``, the file is read, converted to grey and to float32 in
    [0, 1] (:func:`map_to_float`: 8-bit / 255, 16-bit / 65535) and stored as (H, W) float32 under
    ``gt_depth_map``, ``gt_saliency_map``, ``gt_pseudo_label``.

    Every loaded field is appended to ``results['seg_fields']``, so mmseg's ``Resize`` (nearest),
    ``RandomFlip``, ``RandomCrop`` and ``RandomRotate`` move it with the image. Note that
    ``RandomRotate`` and padding fill ``seg_fields`` with ``seg_pad_val`` (255 by default), which
    on the float maps lies outside [0, 1]: consumers treat such values as ignored.

    Size check: if ``results`` holds ``ori_shape`` (set by ``LoadImageFromFile``), each map must
    have that size. ``ori_shape`` rather than ``img_shape`` is used because the test pipeline loads
    annotations after ``Resize``, keeping the ground truth at the original size.

    Required keys: ``seg_map_path`` (optional), ``invert`` (optional), the extra-map path keys
    (optional), ``ori_shape`` (optional), ``seg_fields`` (created if missing).
    Added keys: ``gt_seg_map``, ``gt_depth_map``, ``gt_saliency_map``, ``gt_pseudo_label`` (each
    only when its path is given).

    Args:
        threshold (float): Mask threshold on the 8-bit scale (``> threshold`` is foreground).
            Defaults to 128 (pysodmetrics).
        check_values (bool): Refuse masks that binarising would get wrong (see above).
            Defaults to True.
        with_extra_maps (bool): Load the extra maps whose path keys are present. Defaults to True.
        check_size (bool): Compare every map with ``ori_shape``. Defaults to True.
        imdecode_backend (str): mmcv decoding backend. Defaults to ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.

    Raises:
        FileNotFoundError: a mask or map file does not exist (names the file).
        ValueError: ``cannot decode image <file>`` for empty/truncated/corrupt files; a map whose
            size differs from the image (names the file and both sizes); an unsupported dtype or
            shape; a non-None ``label_map`` in ``results`` (binary labels cannot be remapped); a
            mask refused by the rules above (names the file).
    """

    def __init__(self,
                 threshold: float = 128,
                 with_extra_maps: bool = True,
                 check_size: bool = True,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None,
                 check_values: bool = True) -> None:
        super().__init__()
        self.threshold = threshold
        self.check_values = check_values
        self.with_extra_maps = with_extra_maps
        self.check_size = check_size
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args.copy() if backend_args else None

    def _read_grey(self, path: str) -> np.ndarray:
        return to_grey(decode_image_file(path, self.imdecode_backend, self.backend_args), path)

    def _read_mask(self, path: str) -> np.ndarray:
        """Grey mask by :func:`read_mask` (colour check with ``check_values``)."""
        return read_mask(path, self.backend_args, self.imdecode_backend, self.check_values)

    def _check_size(self, arr: np.ndarray, path: str, what: str, results: dict) -> None:
        if not self.check_size or results.get('ori_shape') is None:
            return
        img_hw = tuple(int(s) for s in results['ori_shape'][:2])
        map_hw = tuple(int(s) for s in arr.shape[:2])
        if map_hw != img_hw:
            hint = ''
            if map_hw == img_hw[::-1]:
                hint = ('; the sizes are transposed: the image probably has an EXIF orientation '
                        '(LoadImageFromFile rotates it for display, maps are read as stored); '
                        'save the image without the rotation tag or rotate the map')
            raise ValueError(
                f'{what} {path!r} has size (h, w) = {map_hw} but image '
                f'{results.get("img_path", "<unknown>")!r} has size (h, w) = {img_hw}{hint}')

    @staticmethod
    def _add_field(results: dict, field: str) -> None:
        seg_fields = results.setdefault('seg_fields', [])
        if field not in seg_fields:
            seg_fields.append(field)

    def transform(self, results: dict) -> dict:
        """Load the mask and extra maps named in ``results``; see the class docstring.

        Args:
            results (dict): Result dict from the dataset / previous transforms.

        Returns:
            dict: ``results`` with the loaded fields added.
        """
        if results.get('label_map') is not None:
            raise ValueError(
                f'LoadBinaryAnnotations: label_map {results["label_map"]} given for '
                f'{results.get("img_path")!r}; binary masks {{0, 1}} cannot be remapped')
        seg_map_path = results.get('seg_map_path')
        if seg_map_path is not None:
            mask = self._read_mask(seg_map_path)
            self._check_size(mask, seg_map_path, 'mask', results)
            if self.check_values:
                check_mask_values(mask, self.threshold, seg_map_path)
            results['gt_seg_map'] = binarize_mask(mask, self.threshold,
                                                  bool(results.get('invert', False)), seg_map_path)
            self._add_field(results, 'gt_seg_map')
        if self.with_extra_maps:
            for key, field in EXTRA_MAP_FIELDS.items():
                path = results.get(key)
                if path is None:
                    continue
                grey = self._read_grey(path)
                self._check_size(grey, path, f'{key} map', results)
                results[field] = map_to_float(grey, path)
                self._add_field(results, field)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'check_values={self.check_values}, '
                f'with_extra_maps={self.with_extra_maps}, check_size={self.check_size}, '
                f"imdecode_backend='{self.imdecode_backend}', backend_args={self.backend_args})")
