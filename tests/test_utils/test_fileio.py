"""dbdseg.utils.fileio: atomic writes, image listing, 8-bit probability maps."""
import json
import os
import stat

import cv2
import numpy as np
import pytest

from dbdseg.utils import fileio
from dbdseg.utils.fileio import (IMG_EXTENSIONS, TMP_SUFFIX, atomic_copy, atomic_write_bytes,
                                 atomic_write_json, imwrite_atomic, is_image_file, list_image_stems,
                                 list_images, prob_to_uint8)


def _mode(path):
    umask = os.umask(0)
    os.umask(umask)
    return stat.S_IMODE(os.stat(path).st_mode), 0o666 & ~umask


def test_prob_to_uint8_rounds():
    # 0.999 * 255 = 254.7 -> 255 (truncation would give 254); 127.5 -> 128 (half to even);
    # 1.5 / 255 * 255 = 1.5 -> 2, 2.5 / 255 * 255 = 2.5 -> 2; values outside [0, 1] are clipped
    out = prob_to_uint8(np.array([0.999, 0.5, 1.5 / 255, 2.5 / 255, 0.0, 1.0, 1.2, -0.1]))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [255, 128, 2, 2, 0, 255, 255, 0])


def test_atomic_write_bytes_failure_leaves_nothing(tmp_path):
    target = tmp_path / 'c' / 'z.bin'
    with pytest.raises(TypeError):
        atomic_write_bytes(str(target), object())
    assert os.listdir(target.parent) == []
    atomic_write_bytes(target, b'abc')  # a PathLike works too
    assert target.read_bytes() == b'abc' and os.listdir(target.parent) == ['z.bin']
    got, want = _mode(target)
    assert got == want  # like an ordinary file, not mkstemp's 0600


def test_atomic_write_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / 'record.txt'
    fileio.atomic_write_text(target, 'first')

    def boom(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError, match='record.txt'):
        fileio.atomic_write_text(target, 'second')
    monkeypatch.undo()
    assert target.read_text() == 'first'
    assert os.listdir(tmp_path) == ['record.txt']


def test_atomic_write_json_and_copy(tmp_path):
    atomic_write_json(tmp_path / 'm.json', {'maxF': 0.5, 'n': [1, 2]})
    text = (tmp_path / 'm.json').read_text()
    assert json.loads(text) == {'maxF': 0.5, 'n': [1, 2]} and text.endswith('\n')
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / 'bad.json', {'x': object()})
    assert not (tmp_path / 'bad.json').exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TMP_SUFFIX)]

    src = tmp_path / 'src.bin'
    src.write_bytes(b'\x00\x01payload')
    os.chmod(src, 0o640)
    atomic_copy(src, tmp_path / 'out' / 'dst.bin')
    dst = tmp_path / 'out' / 'dst.bin'
    assert dst.read_bytes() == b'\x00\x01payload'
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o640
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / 'missing.bin', tmp_path / 'out' / 'x.bin')
    assert sorted(os.listdir(tmp_path / 'out')) == ['dst.bin']


def test_imwrite_atomic_round_trip_and_errors(tmp_path):
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    imwrite_atomic(tmp_path / 'sub' / 'a.png', img)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'sub' / 'a.png'), 0), img)
    with pytest.raises(ValueError, match='b.nosuchformat'):
        imwrite_atomic(tmp_path / 'b.nosuchformat', img)
    assert sorted(os.listdir(tmp_path)) == ['sub']


def test_list_images_and_stems(tmp_path):
    for name in ('b.JPG', 'a.png', '.hidden.png', 'notes.txt', 'c.jp2'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'd.bmp').write_bytes(b'x')
    files = list_images(tmp_path)
    assert [os.path.basename(f) for f in files] == ['a.png', 'b.JPG', 'c.jp2']
    # a file is taken as given, duplicates once, in first-seen order
    extra = tmp_path / 'notes.txt'
    assert list_images([extra, tmp_path, tmp_path / 'a.png'])[0] == str(extra)
    assert len(list_images([extra, tmp_path, tmp_path / 'a.png'])) == 4
    with pytest.raises(FileNotFoundError, match='nope'):
        list_images([tmp_path / 'nope'])

    assert list_image_stems(tmp_path) == ['a', 'b', 'c']
    assert list_image_stems(tmp_path, recursive=True) == ['a', 'b', 'c', 'sub/d']
    assert list_image_stems(tmp_path, suffix='.png') == ['a']
    with pytest.raises(FileNotFoundError, match='missing'):
        list_image_stems(tmp_path / 'missing')
    assert is_image_file('x.TIFF') and not is_image_file('.x.png') and not is_image_file('x.gif')
    assert '.jpg' in IMG_EXTENSIONS and all(e == e.lower() for e in IMG_EXTENSIONS)


def test_atomic_write_into_unwritable_place_names_it(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(OSError, match='a_file'):
        atomic_write_bytes(str(blocker / 'inside.bin'), b'data')


def test_collect_images_refuses_clashing_stems_and_outputs_over_inputs(tmp_path):
    from dbdseg.utils.fileio import collect_images
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    for rel in ('a/x.jpg', 'a/y.png', 'b/z.png'):
        (tmp_path / rel).write_bytes(b'x')
    out = tmp_path / 'out'
    jobs = collect_images([tmp_path / 'a'], lambda s: [out / f'{s}.png'])
    assert [s for _, s in jobs] == ['x', 'y']
    (tmp_path / 'b' / 'x.png').write_bytes(b'x')
    with pytest.raises(ValueError, match='same name "x".*labels'):
        collect_images([tmp_path / 'a', tmp_path / 'b'], lambda s: [], what='labels')
    with pytest.raises(ValueError, match='would overwrite the input image.*choose --here'):
        collect_images([tmp_path / 'a'], lambda s: [tmp_path / 'a' / f'{s}.png'], hint='--here')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images found'):
        collect_images([tmp_path / 'empty'], lambda s: [])
    with pytest.raises(FileNotFoundError, match='missing'):
        collect_images([tmp_path / 'missing'], lambda s: [])


# --- issue 17: encoding without writing, the hidden-file rule, the overwrite rule --------------
def test_encode_image_names_the_file_and_jpeg_limit(tmp_path):
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    data = fileio.encode_image(tmp_path / 'a.png', img)
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), 0), img)
    assert os.listdir(tmp_path) == []  # nothing written
    wide = np.zeros((2, 65600, 3), np.uint8)
    with pytest.raises(ValueError, match=r'wide_overlay\.jpg \(JPEG allows at most 65,535'):
        fileio.encode_image('out/wide_overlay.jpg', wide)


def test_is_hidden():
    assert fileio.is_hidden('.hidden.jpg') and fileio.is_hidden('a/._IMG_1.jpg')
    assert fileio.is_hidden('/x/.cache/')  # the last name counts
    assert not fileio.is_hidden('.cache/a.jpg') and not fileio.is_hidden('a.jpg')
    assert not fileio.is_hidden('.') and not fileio.is_hidden('..')


def test_claim_output_refuses_files_of_others(tmp_path):
    written = set()
    (tmp_path / 'theirs.png').write_bytes(b'x')
    with pytest.raises(fileio.OutputExistsError, match=r'theirs\.png'):
        fileio.claim_output(tmp_path / 'theirs.png', written)
    assert written == set()
    mine = fileio.claim_output(tmp_path / 'mine.png', written)
    (tmp_path / 'mine.png').write_bytes(b'y')
    assert fileio.claim_output(mine, written) == mine  # written by this run: again is fine


def test_collect_images_names_the_input_an_output_would_replace(tmp_path):
    from dbdseg.utils.fileio import collect_images
    (tmp_path / 'a.jpg').write_bytes(b'x')
    (tmp_path / 'a_overlay.jpg').write_bytes(b'x')
    with pytest.raises(ValueError) as err:
        collect_images([tmp_path / 'a.jpg', tmp_path / 'a_overlay.jpg'],
                       lambda s: [tmp_path / f'{s}_overlay.jpg'] if s == 'a' else [])
    message = str(err.value)
    assert f'of {tmp_path / "a.jpg"} would overwrite the input image ' \
           f'{tmp_path / "a_overlay.jpg"}' in message
