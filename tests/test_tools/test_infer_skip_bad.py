"""tools/infer.py: --skip-bad (bad files skipped and listed), atomic outputs, --crf, bad output
folders. Odd-but-valid images (16-bit, RGBA, palette, grey, EXIF-rotated) are predicted."""
import os
import sys
import types

import cv2
import numpy as np
import pytest
from PIL import Image

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

infer_tool = tiny.load_tool('infer')

#: name -> expected (h, w) of the prediction (display orientation)
GOOD = {
    'plain': (23, 31),
    'deep16': (20, 26),
    'rgba': (17, 21),
    'palette': (19, 25),
    'grey': (16, 22),
    'rotated': (30, 18)
}
#: name -> how it is broken
BAD = {
    'truncated.jpg': 'truncated JPEG',
    'empty.png': 'empty file',
    'noise.jpg': 'random bytes',
    'letter.png': 'text with an image suffix'
}


@pytest.fixture(scope='module')
def model_files(tiny_project, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp('skipbad_ckpt') / 'tiny.pth'
    tiny.save_untrained_checkpoint(tiny_project['config'], ckpt)
    return tiny_project['config'], str(ckpt)


def make_odd_and_bad_folder(folder):
    """Valid images of unusual kinds (GOOD), broken files (BAD), a non-image file and a macOS
    AppleDouble file ``._plain.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / 'plain.png'), tiny.make_image(23, 31, seed=1))
    cv2.imwrite(str(folder / 'deep16.png'), tiny.make_image(20, 26, seed=2).astype(np.uint16) * 257)
    rgba = np.dstack([tiny.make_image(17, 21, seed=3), np.full((17, 21), 128, np.uint8)])
    cv2.imwrite(str(folder / 'rgba.png'), rgba)
    Image.fromarray(tiny.make_image(19, 25, seed=4)).convert('P').save(folder / 'palette.png')
    cv2.imwrite(str(folder / 'grey.png'), tiny.make_image(16, 22, seed=5)[:, :, 0])
    im = Image.fromarray(np.ascontiguousarray(tiny.make_image(18, 30, seed=6)[:, :, ::-1]))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display: 18x30 stored, 30x18 shown
    im.save(str(folder / 'rotated.jpg'), exif=exif)
    ok, buf = cv2.imencode('.jpg', tiny.make_image(40, 40, seed=7))
    (folder / 'truncated.jpg').write_bytes(buf.tobytes()[:len(buf) // 2])
    (folder / 'empty.png').write_bytes(b'')
    (folder / 'noise.jpg').write_bytes(rng.bytes(3000))
    (folder / 'letter.png').write_text('Dear user, this is not a picture.')
    (folder / '._plain.png').write_bytes(b'\x00\x05\x16\x07' + rng.bytes(60))
    (folder / 'notes.txt').write_text('not an image, wrong suffix: ignored')
    return folder


def test_skip_bad_keeps_going_and_lists_the_skipped(model_files, tmp_path, capsys):
    config, ckpt = model_files
    folder = make_odd_and_bad_folder(tmp_path / 'in')
    out = tmp_path / 'out'
    written = infer_tool.main([config, ckpt, str(folder), '--out-dir', str(out), '--skip-bad'])
    assert len(written) == 2 * len(GOOD)
    assert sorted(os.listdir(out)) == sorted([f'{s}.png'
                                              for s in GOOD] + [f'{s}_overlay.jpg' for s in GOOD])
    for stem, hw in GOOD.items():
        assert cv2.imread(str(out / f'{stem}.png'), cv2.IMREAD_UNCHANGED).shape == hw, stem
    skipped = dict(infer_tool.main.skipped)
    assert sorted(os.path.basename(p) for p in skipped) == sorted(BAD)
    for path, reason in skipped.items():
        assert path in reason  # every reason names its file
    err = capsys.readouterr().err
    assert f'skipped {len(BAD)} of {len(GOOD) + len(BAD)} input(s)' in err
    for name in BAD:
        assert name in err
    assert '._plain.png' not in err  # AppleDouble metadata: not an input at all


def test_without_skip_bad_the_first_bad_file_stops_the_run(model_files, tmp_path):
    config, ckpt = model_files
    folder = make_odd_and_bad_folder(tmp_path / 'in')
    with pytest.raises(SystemExit) as e:
        infer_tool.main([config, ckpt, str(folder), '--out-dir', str(tmp_path / 'o')])
    msg = str(e.value)
    assert 'empty.png' in msg and '--skip-bad' in msg  # sorted: empty.png is the first bad one


def test_interrupted_run_never_replaces_finished_outputs(model_files, tmp_path, monkeypatch):
    """A second run (other overlay settings) killed while writing: the first run's files are
    still complete and unchanged; no partial file sits under a final name."""
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(24, 24, seed=3))
    out = tmp_path / 'out'
    infer_tool.main([config, ckpt, str(img), '--out-dir', str(out)])
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}

    class Killed(BaseException):
        pass

    import dbdseg.utils.fileio as fileio
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        raise Killed(dst)

    monkeypatch.setattr(fileio.os, 'replace', dying_replace)
    with pytest.raises(Killed):
        infer_tool.main([
            config, ckpt,
            str(img), '--out-dir',
            str(out), '--overlay-alpha', '0.9', '--threshold', '0.1'
        ])
    monkeypatch.undo()
    assert calls and calls[0].endswith('shot.png')
    for name, data in before.items():
        assert (out / name).read_bytes() == data, name


def test_crf_with_a_stand_in(model_files, tmp_path, monkeypatch):
    """--crf passes the RGB uint8 image and the float probability map to dense_crf and saves
    what it returns (stand-in: 1 - p)."""
    config, ckpt = model_files
    img_path = tmp_path / 'a.png'
    bgr = tiny.make_image(20, 28, seed=11)
    cv2.imwrite(str(img_path), bgr)
    infer_tool.main([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'plain')])
    seen = []

    def fake_dense_crf(image, prob):
        seen.append((image.copy(), prob.copy()))
        return (1.0 - prob).astype(np.float32)

    fake = types.ModuleType('dbdseg.utils.crf')
    fake.dense_crf = fake_dense_crf
    monkeypatch.setitem(sys.modules, 'dbdseg.utils.crf', fake)
    infer_tool.main([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'crf'), '--crf'])
    assert len(seen) == 1
    image, prob = seen[0]
    assert image.dtype == np.uint8 and image.shape == (20, 28, 3)
    np.testing.assert_array_equal(image, bgr[:, :, ::-1])  # RGB
    assert prob.dtype == np.float32 and prob.shape == (20, 28)
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    plain = cv2.imread(str(tmp_path / 'plain' / 'a.png'), cv2.IMREAD_UNCHANGED).astype(int)
    refined = cv2.imread(str(tmp_path / 'crf' / 'a.png'), cv2.IMREAD_UNCHANGED).astype(int)
    assert np.abs(refined - (255 - plain)).max() <= 1


def test_crf_real(model_files, tmp_path):
    """The real dbdseg.utils.crf.dense_crf (pydensecrf) when it is there."""
    pytest.importorskip('dbdseg.utils.crf')
    pytest.importorskip('pydensecrf.densecrf')
    config, ckpt = model_files
    img_path = tmp_path / 'a.png'
    cv2.imwrite(str(img_path), tiny.make_image(24, 36, seed=12))
    infer_tool.main([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'plain')])
    infer_tool.main([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'crf'), '--crf'])
    plain = cv2.imread(str(tmp_path / 'plain' / 'a.png'), cv2.IMREAD_UNCHANGED)
    refined = cv2.imread(str(tmp_path / 'crf' / 'a.png'), cv2.IMREAD_UNCHANGED)
    assert refined.shape == plain.shape == (24, 36) and refined.dtype == np.uint8
    assert not np.array_equal(refined, plain)


@pytest.mark.parametrize('where', ['below_a_file', 'sysfs'])
def test_unwritable_output_folder_is_named(model_files, tmp_path, where):
    config, ckpt = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(8, 8))
    if where == 'below_a_file':
        blocker = tmp_path / 'plain_file'
        blocker.write_text('x')
        out = blocker / 'out'
    else:  # even root cannot create folders in /sys
        if not os.path.isdir('/sys'):
            pytest.skip('no /sys')
        out = '/sys/dbdseg_infer_out'
    with pytest.raises(SystemExit, match=f'cannot write to the output folder {out}'):
        infer_tool.main([config, ckpt, str(img), '--out-dir', str(out)])
