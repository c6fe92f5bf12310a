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


def _visible(folder):
    """The files of ``folder`` but hidden ones (infer's record of its outputs)."""
    return sorted(n for n in os.listdir(folder) if not n.startswith('.'))


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
    report = infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out), '--skip-bad'])
    assert len(report.written) == 2 * len(GOOD)
    assert _visible(out) == sorted([f'{s}.png' for s in GOOD] + [f'{s}_overlay.jpg' for s in GOOD])
    for stem, hw in GOOD.items():
        assert cv2.imread(str(out / f'{stem}.png'), cv2.IMREAD_UNCHANGED).shape == hw, stem
    skipped = dict(report.skipped)
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
        infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(tmp_path / 'o')])
    msg = str(e.value)
    assert 'empty.png' in msg and '--skip-bad' in msg  # sorted: empty.png is the first bad one


def test_interrupted_run_never_replaces_finished_outputs(model_files, tmp_path, monkeypatch):
    """A second run (other overlay settings) killed while writing: the first run's files are
    still complete and unchanged; no partial file sits under a final name."""
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(24, 24, seed=3))
    out = tmp_path / 'out'
    infer_tool.execute([config, ckpt, str(img), '--out-dir', str(out)])
    before = {n: (out / n).read_bytes() for n in _visible(out)}

    class Killed(BaseException):
        pass

    import dbdseg.utils.fileio as fileio
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        raise Killed(dst)

    monkeypatch.setattr(fileio.os, 'replace', dying_replace)
    with pytest.raises(Killed):
        infer_tool.execute([
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
    infer_tool.execute([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'plain')])
    seen = []

    def fake_dense_crf(image, prob):
        seen.append((image.copy(), prob.copy()))
        return (1.0 - prob).astype(np.float32)

    fake = types.ModuleType('dbdseg.utils.crf')
    fake.dense_crf = fake_dense_crf
    monkeypatch.setitem(sys.modules, 'dbdseg.utils.crf', fake)
    infer_tool.execute([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'crf'), '--crf'])
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
    infer_tool.execute([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'plain')])
    infer_tool.execute([config, ckpt, str(img_path), '--out-dir', str(tmp_path / 'crf'), '--crf'])
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
        infer_tool.execute([config, ckpt, str(img), '--out-dir', str(out)])


# --- issue 17: too large images (item 10), temporary files on kills and full disks (item 12) --
def test_pixel_limit_and_unencodable_overlay_are_skipped(model_files, tmp_path, capsys):
    """--skip-bad: an image over --max-pixels and one wider than JPEG allows (65,535 px: its
    overlay cannot be encoded) are skipped and listed; nothing is written for them."""
    config, ckpt = model_files
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'ok.png'), tiny.make_image(20, 30, seed=1))
    cv2.imwrite(str(folder / 'big.png'), tiny.make_image(400, 400, seed=2))  # 160,000 px
    cv2.imwrite(str(folder / 'wide.png'), np.full((2, 65600, 3), 128, np.uint8))
    out = tmp_path / 'out'
    report = infer_tool.execute(
        [config, ckpt,
         str(folder), '--out-dir',
         str(out), '--skip-bad', '--max-pixels', '150000'])
    assert _visible(out) == ['ok.png', 'ok_overlay.jpg']
    assert len(report.written) == 2
    skipped = {os.path.basename(p): reason for p, reason in report.skipped}
    assert sorted(skipped) == ['big.png', 'wide.png']
    assert 'big.png' in skipped['big.png'] and 'pixels' in skipped['big.png']
    assert 'wide_overlay.jpg' in skipped['wide.png']
    err = capsys.readouterr().err
    assert 'skipped 2 of 3 input(s)' in err
    # without --skip-bad each stops the run, naming the file; --max-pixels 0: no limit
    with pytest.raises(SystemExit, match=r'big\.png.*--max-pixels'):
        infer_tool.execute([
            config, ckpt,
            str(folder / 'big.png'), '--out-dir',
            str(tmp_path / 'o1'), '--max-pixels', '150000'
        ])
    infer_tool.execute([
        config, ckpt,
        str(folder / 'big.png'), '--out-dir',
        str(tmp_path / 'o2'), '--max-pixels', '0'
    ])
    assert (tmp_path / 'o2' / 'big.png').is_file()
    with pytest.raises(SystemExit, match=r'wide_overlay\.jpg.*--skip-bad'):
        infer_tool.execute(
            [config, ckpt,
             str(folder / 'wide.png'), '--out-dir',
             str(tmp_path / 'o3')])
    assert not (tmp_path / 'o3' / 'wide.png').exists()


_KILL_SCRIPT = '''
import os, resource, signal, sys, time
sys.argv = ['tools/infer.py'] + sys.argv[1:]
how = os.environ['DBDSEG_TEST_FAULT']
real_replace = os.replace
def replace(src, dst):
    if how != 'fsize' and str(dst).endswith('shot.png'):
        os.kill(os.getpid(), getattr(signal, how))
        time.sleep(30)
    return real_replace(src, dst)
os.replace = replace
if how == 'fsize':  # a full disk once predicting starts: writes beyond 600 bytes fail (EFBIG)
    import dbdseg.apis
    predict = dbdseg.apis.inference_model
    def limited(*args, **kwargs):
        resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))
        return predict(*args, **kwargs)
    dbdseg.apis.inference_model = limited
import runpy
runpy.run_path(os.path.join({repo!r}, 'tools', 'infer.py'), run_name='__main__')
'''


def _run_faulty_infer(config, ckpt, img, out, how):
    import subprocess
    script = _KILL_SCRIPT.format(repo=tiny.REPO_ROOT)
    env = dict(os.environ, DBDSEG_TEST_FAULT=how, OMP_NUM_THREADS='1')
    return subprocess.run(
        [sys.executable, '-c', script, config, ckpt,
         str(img), '--out-dir',
         str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300)


def _leftovers(folder):
    """Hidden entries other than infer's record of its own outputs."""
    return sorted(
        n for n in os.listdir(folder) if n.startswith('.') and n != '.dbdseg-infer-outputs.jsonl')


@pytest.mark.parametrize('how', ['SIGTERM', 'SIGINT', 'SIGHUP'])
def test_signals_leave_no_temporary_files(model_files, tmp_path, how):
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(16, 16, seed=1))
    out = tmp_path / 'out'
    proc = _run_faulty_infer(config, ckpt, img, out, how)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert _leftovers(out) == [], proc.stderr[-2000:]
    assert not (out / 'shot.png').exists()


def test_kill_leftovers_are_removed_at_the_next_start_only_for_dead_processes(
        model_files, tmp_path):
    """SIGKILL while committing leaves the temporary data; the next run removes it, but not the
    temporary folder of a live process (nor one of another host)."""
    import socket
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(16, 16, seed=1))
    out = tmp_path / 'out'
    proc = _run_faulty_infer(config, ckpt, img, out, 'SIGKILL')
    assert proc.returncode == -9
    assert _leftovers(out), 'the kill should leave a temporary file or folder'
    host = socket.gethostname()
    live = out / f'.dbdseg-infer.{host}.{os.getppid()}.abc123.staging'
    elsewhere = out / '.dbdseg-infer.other-host.1.abc123.staging'
    for d in (live, elsewhere):
        d.mkdir()
        (d / 'x.png').write_bytes(b'in progress')
    infer_tool.execute([config, ckpt, str(img), '--out-dir', str(out)])
    assert _leftovers(out) == sorted([live.name, elsewhere.name])
    assert (live / 'x.png').read_bytes() == b'in progress'
    assert _visible(out) == ['shot.png', 'shot_overlay.jpg']


def test_full_disk_leaves_no_partial_or_temporary_file(model_files, tmp_path):
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(48, 48, seed=1))
    out = tmp_path / 'out'
    out.mkdir()
    proc = _run_faulty_infer(config, ckpt, img, out, 'fsize')
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert 'error: cannot write' in proc.stderr and 'shot' in proc.stderr, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    assert _leftovers(out) == []
    for name in _visible(out):  # what was committed is complete (the map may be, if small)
        assert cv2.imread(str(out / name)) is not None, name
