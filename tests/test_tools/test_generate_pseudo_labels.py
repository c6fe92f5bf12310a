"""tools/a2s/generate_pseudo_labels.py: argument parsing and the call of
:func:`dbdseg.apis.pseudo_label.generate_pseudo_labels` (the algorithm is tested in
tests/test_apis/test_pseudo_label.py)."""
import os.path as osp
import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest

from dbdseg.apis.pseudo_label import generate_pseudo_labels

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'a2s', 'generate_pseudo_labels.py')
PROG = 'tools/a2s/generate_pseudo_labels.py'

TOOL = runpy.run_path(SCRIPT)  # the module's globals (its functions see the original dict)


def _scene(h=32, w=40, seed=0):
    """Dark textured background with a bright centred rectangle (rows 8:24, cols 10:30)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 40, np.int32) + rng.integers(-5, 6, (h, w, 3))
    img[8:24, 10:30] = (200, 220, 240)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for i, stem in enumerate(('img_a', 'img_b', 'img_c')):
        cv2.imwrite(str(folder / f'{stem}.png'), _scene(seed=i))
    return folder


def _run(*argv):
    return TOOL['main']([str(a) for a in argv] + ['--no-progress'])


@pytest.fixture
def recorder(monkeypatch):
    """Replace the package call (and the registration) by recorders: ``calls``, ``registered``."""
    calls, registered = [], []

    def fake(inputs, out_dir, **kwargs):
        calls.append(dict(inputs=inputs, out_dir=out_dir, **kwargs))
        return dict(written=[], finished=[], skipped=[])

    monkeypatch.setitem(TOOL['main'].__globals__, 'generate_pseudo_labels', fake)
    import dbdseg.utils
    monkeypatch.setattr(dbdseg.utils, 'register_all_modules', lambda *a, **k: registered.append(
        (a, k)))
    return calls, registered


def test_defaults_reach_the_api(recorder):
    calls, registered = recorder
    TOOL['main'](['cfg.py', 'none', 'a.png', 'dir', '--out', 'o'])
    assert calls == [
        dict(
            inputs=['a.png', 'dir'],
            out_dir='o',
            cue='model',
            soft_dir=None,
            unary='soft',
            gt_prob=0.7,
            crf=True,
            crf_iterations=10,
            median_size=7,
            workers=2,
            skip_bad=False,
            progress=True,
            prog=PROG,
            cue_cfg=dict(
                centre_sigma=0.25,
                config='cfg.py',
                checkpoint=None,
                device='cpu',
                cfg_options=None,
                max_size=0))
    ]
    assert registered == [((), {})]  # --cue model builds a model: registration first


def test_flags_reach_the_api(recorder, capsys):
    calls, registered = recorder
    TOOL['main']([
        'cfg.py', 'NONE', 'a.png', '--out', 'o', '--cue', 'centre', '--workers', '0', '--skip-bad',
        '--no-crf', '--save-soft', 's', '--unary', 'hard', '--gt-prob', '0.8', '--crf-iterations',
        '3', '--median-size', '5', '--centre-sigma', '0.3', '--device', 'cuda:1', '--max-size',
        '64', '--cfg-options', 'a=1', '--no-progress'
    ])
    assert calls == [
        dict(
            inputs=['a.png'],
            out_dir='o',
            cue='centre',
            soft_dir='s',
            unary='hard',
            gt_prob=0.8,
            crf=False,
            crf_iterations=3,
            median_size=5,
            workers=0,
            skip_bad=True,
            progress=False,
            prog=PROG,
            cue_cfg=dict(
                centre_sigma=0.3,
                config='cfg.py',
                checkpoint=None,
                device='cuda:1',
                cfg_options=dict(a=1),
                max_size=64))
    ]
    assert registered == []  # no network: nothing registered
    assert f'{PROG}: note: --cue centre runs no network; CONFIG and CKPT are not used' in (
        capsys.readouterr().out)
    TOOL['main'](['none', 'none', 'a.png', '--out', 'o', '--cue', 'ft'])
    assert calls[-1]['cue'] == 'ft' and registered == []
    assert 'note' not in capsys.readouterr().out
    TOOL['main'](['cfg.py', 'w.pth', 'a.png', '--out', 'o'])
    assert calls[-1]['cue_cfg']['checkpoint'] == 'w.pth'


@pytest.mark.parametrize('flag, value, message', [
    ('--median-size', '4', 'argument --median-size: must be a positive odd integer, got 4'),
    ('--median-size', '0', 'must be a positive odd integer, got 0'),
    ('--workers', '-1', 'argument --workers: must be >= 0, got -1'),
    ('--crf-iterations', '0', 'argument --crf-iterations: must be >= 1, got 0'),
    ('--gt-prob', '0.5', 'argument --gt-prob: must be in (0.5, 1), got 0.5'),
    ('--gt-prob', '1', 'must be in (0.5, 1), got 1'),
    ('--centre-sigma', '0', 'argument --centre-sigma: must be > 0, got 0'),
    ('--centre-sigma', 'nan', 'must be > 0, got nan'),
    ('--max-size', 'x', "argument --max-size: invalid _non_negative_int value: 'x'"),
    ('--cue', 'sharp', "argument --cue: invalid choice: 'sharp'"),
])
def test_bad_values_are_rejected(recorder, capsys, flag, value, message):
    calls, _ = recorder
    with pytest.raises(SystemExit):
        TOOL['main'](['none', 'none', 'a.png', '--out', 'o', '--cue', 'centre', flag, value])
    assert message in capsys.readouterr().err
    assert calls == []


def test_argument_errors(images, tmp_path):
    with pytest.raises(SystemExit, match='needs a stage-1 CONFIG'):
        _run('none', 'none', images, '--out', tmp_path / 'o')
    # errors of the package become "PROG: error: ..." exits
    with pytest.raises(SystemExit, match=f'^{PROG}: error: two inputs have the same name'):
        other = tmp_path / 'other'
        other.mkdir()
        cv2.imwrite(str(other / 'img_a.png'), _scene())
        _run('none', 'none', images, other, '--out', tmp_path / 'o', '--cue', 'centre')
    with pytest.raises(SystemExit, match=f'^{PROG}: error: .*overwrite the input'):
        _run('none', 'none', images, '--out', images, '--cue', 'centre')
    with pytest.raises(SystemExit, match=f'^{PROG}: error: config file not found: nope.py'):
        _run('nope.py', 'none', images, '--out', tmp_path / 'o', '--workers', 0)
    with pytest.raises(SystemExit):
        _run('none', 'none', images, '--out', tmp_path / 'o', '--median-size', '4')


def test_cli_writes_the_api_labels(images, tmp_path, capsys):
    res = _run('none', 'none', images, '--out', tmp_path / 'cli', '--cue', 'centre', '--workers', 0,
               '--save-soft', tmp_path / 'soft')
    assert sorted(osp.basename(p)
                  for p in res['written']) == ['img_a.png', 'img_b.png', 'img_c.png']
    out = capsys.readouterr().out
    assert f'{PROG}: 3 image(s), 0 already finished, 3 to do; cue=centre, unary=soft, crf=on' in out
    assert f'{PROG}: wrote 3 label(s) to {tmp_path / "cli"}' in out
    generate_pseudo_labels(
        images,
        tmp_path / 'api',
        cue='centre',
        workers=0,
        progress=False,
        soft_dir=tmp_path / 'api_soft')
    for name in ('img_a', 'img_b', 'img_c'):
        for cli, api in (('cli', 'api'), ('soft', 'api_soft')):
            a = cv2.imread(str(tmp_path / cli / f'{name}.png'), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(tmp_path / api / f'{name}.png'), cv2.IMREAD_UNCHANGED)
            assert a is not None and np.array_equal(a, b)


def test_runs_as_a_script():
    """``python tools/a2s/generate_pseudo_labels.py`` imports the package with no path edits."""
    proc = subprocess.run([sys.executable, SCRIPT, '--help'],
                          capture_output=True,
                          text=True,
                          cwd=osp.dirname(REPO),
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f'usage: {PROG}' in proc.stdout and '--centre-sigma' in proc.stdout
