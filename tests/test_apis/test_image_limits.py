"""dbdseg.apis.inference.read_image: the pixel limit, checked from the file header before any
decoding (issue 17: a 31 KB PNG of 16000 x 16000 took 6.5 GB)."""
import time
import zlib

import cv2
import numpy as np
import pytest

from dbdseg.apis import inference
from dbdseg.apis.inference import DEFAULT_MAX_PIXELS, ImageTooLargeError, read_image


def _png_bomb(path, width=16000, height=16000):
    """A valid 8-bit grey PNG of ``width`` x ``height`` zeros (about 250 KB on disk)."""
    import struct

    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))

    comp = zlib.compressobj(9)
    row = b'\0' * (width + 1)
    idat = b''.join(comp.compress(row * 500) for _ in range(height // 500)) + comp.flush()
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) +
                     chunk(b'IEND', b''))
    return path


def _forbid_decoding(monkeypatch):
    """Fail the test if anything decodes pixels (OpenCV, mmcv or Pillow)."""
    from PIL import ImageFile

    def boom(*args, **kwargs):
        raise AssertionError('the image was decoded')

    monkeypatch.setattr(inference.mmcv, 'imfrombytes', boom)
    monkeypatch.setattr(cv2, 'imdecode', boom)
    monkeypatch.setattr(ImageFile.ImageFile, 'load', boom)


def test_default_limit_is_64_megapixels():
    assert DEFAULT_MAX_PIXELS == 64_000_000
    assert issubclass(ImageTooLargeError, ValueError)  # --skip-bad skips it like a bad file


def test_limit_is_checked_from_the_header(tmp_path, monkeypatch):
    path = tmp_path / 'photo.png'
    cv2.imwrite(str(path), np.full((80, 100, 3), 7, np.uint8))
    assert read_image(path, max_pixels=8000).shape == (80, 100, 3)  # exactly at the limit
    assert read_image(path, max_pixels=None).shape == (80, 100, 3)
    assert read_image(path, max_pixels=0).shape == (80, 100, 3)  # 0: no limit
    _forbid_decoding(monkeypatch)
    with pytest.raises(ImageTooLargeError, match=r'photo\.png.*100 x 80') as e:
        read_image(path, max_pixels=7999)
    assert 'max_pixels' in str(e.value)


def test_limit_after_decoding_when_pillow_cannot_read_the_header(tmp_path, monkeypatch):
    """A file whose header Pillow cannot parse is decoded (by OpenCV) and checked then."""
    from PIL import Image
    path = tmp_path / 'photo.png'
    cv2.imwrite(str(path), np.full((80, 100, 3), 7, np.uint8))

    def cannot(*args, **kwargs):
        raise OSError('cannot identify image file')

    monkeypatch.setattr(Image, 'open', cannot)
    with pytest.raises(ImageTooLargeError, match=r'photo\.png'):
        read_image(path, max_pixels=5000)


def test_png_bomb_is_refused_at_once(tmp_path, monkeypatch):
    bomb = _png_bomb(tmp_path / 'bomb.png')
    assert bomb.stat().st_size < 400_000
    _forbid_decoding(monkeypatch)
    t0 = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r'bomb\.png.*256 megapixels'):
        read_image(bomb)
    assert time.perf_counter() - t0 < 5.0
