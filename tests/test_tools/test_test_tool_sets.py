"""tools/test.py with several test sets and TTA, end to end (the table and the TTA pipeline
edits: tests/test_evaluation/test_metric_tables.py, tests/test_apis/test_test_setup.py)."""
import os.path as osp

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

test_tool = tiny.load_tool('test')

# --- end to end: two test sets in one run ---------------------------------------------------------
PROTOCOL_KEYS = ('ddP', 'ddR', 'ddF', 'ddpP', 'ddpR', 'ddpF', 'fixF', 'fixIoU')

MULTI_SET_EXTRA = '''
_set_cfg = dict(type='BinarySegDataset', data_prefix=dict(img_path='images', seg_map_path='masks'),
                img_suffix='.png', seg_map_suffix='.png', pipeline=test_pipeline)
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MultiSetDataset', set_names=['A', 'B'], datasets=[
        dict(_set_cfg, data_root={root_a!r}),
        dict(_set_cfg, data_root={root_b!r}, invert=True),
    ]))
test_evaluator = dict(type='SODMetric', dbd_protocols=['dd', 'dd_pooled', 'fixed'])
tta_model = dict(type='BinarySegTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(32, 32), keep_ratio=False),
         dict(type='Resize', scale=(48, 48), keep_ratio=False)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadBinaryAnnotations')],
        [dict(type='PackBinarySegInputs')],
    ])
]
'''


def _run(args):
    name = tiny.unique_name('sets')
    return test_tool.main(args +
                          ['--cfg-options', f'experiment_name={name}', f'visualizer.name={name}'])


@pytest.fixture(scope='module')
def multi_set(trained, tmp_path_factory):
    """Two test sets: A = the tiny project's data, B = two images of it with inverted masks."""
    root = tmp_path_factory.mktemp('multi_set')
    root_b = tiny.write_dataset(root / 'set_b', stems=tiny.STEMS[:2])
    config = tiny.write_config(root / 'multi.py', trained['data_root'],
                               MULTI_SET_EXTRA.format(root_a=trained['data_root'], root_b=root_b))

    return dict(trained, multi_config=config, root_b=root_b)


def test_two_sets_one_run_per_set_keys_folders_and_values(multi_set, tmp_path):
    import json

    import cv2
    out = tmp_path / 'preds'
    flat = _run([
        multi_set['multi_config'], multi_set['checkpoint'], '--work-dir',
        str(tmp_path / 'w'), '--out',
        str(out), '--metrics-out',
        str(tmp_path / 'm.json')
    ])
    for set_name in ('A', 'B'):
        for key in ('maxF', 'MAE', 'Sm') + PROTOCOL_KEYS:
            assert isinstance(flat[f'{set_name}/{key}'], float), (set_name, key)
    assert not any('/' not in k for k in flat)
    with open(tmp_path / 'm.json') as f:
        assert json.load(f) == pytest.approx(flat)
    # one prediction folder per set, named like the stems of that set
    assert sorted(p.name for p in (out / 'A').iterdir()) == [f'{s}.png' for s in tiny.STEMS]
    assert sorted(p.name for p in (out / 'B').iterdir()) == [f'{s}.png' for s in tiny.STEMS[:2]]
    pred = cv2.imread(str(out / 'A' / f'{tiny.STEMS[0]}.png'), cv2.IMREAD_UNCHANGED)
    assert pred.shape == (tiny.IMG_H, tiny.IMG_W)
    # per-set curves
    assert (tmp_path / 'w' / 'A' / 'curves.json').is_file()
    assert (tmp_path / 'w' / 'B' / 'curves.png').is_file()
    # set A scores exactly as the single-set run on the same data and checkpoint
    single = _run([
        multi_set['config'], multi_set['checkpoint'], '--work-dir',
        str(tmp_path / 's'), '--cfg-options',
        "test_evaluator.dbd_protocols=['dd','dd_pooled','fixed']"
    ])
    assert {k: flat[f'A/{k}'] for k in single} == pytest.approx(single, abs=1e-12)
    # B holds the same images with inverted masks: it scores differently (and worse)
    assert flat['B/fixF'] != pytest.approx(flat['A/fixF'])
    assert flat['B/MAE'] > flat['A/MAE']


def test_tta_on_two_sets(multi_set, tmp_path):
    import cv2
    import numpy as np
    plain, tta = tmp_path / 'plain', tmp_path / 'tta'
    flat_plain = _run([
        multi_set['multi_config'], multi_set['checkpoint'], '--work-dir',
        str(tmp_path / 'w1'), '--out',
        str(plain)
    ])
    flat_tta = _run([
        multi_set['multi_config'], multi_set['checkpoint'], '--work-dir',
        str(tmp_path / 'w2'), '--out',
        str(tta), '--tta'
    ])
    assert set(flat_tta) == set(flat_plain)
    for key, value in flat_tta.items():
        if key.endswith(('MAE', 'fixF', 'maxF', 'ddF')):
            assert 0.0 <= value <= 1.0, key
    # every member set got the TTA pipeline: both sets' predictions change, sizes stay original
    for set_name, stems in (('A', tiny.STEMS), ('B', tiny.STEMS[:2])):
        for stem in stems:
            a = cv2.imread(str(plain / set_name / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(tta / set_name / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
            assert a.shape == b.shape == (tiny.IMG_H, tiny.IMG_W)
            assert not np.array_equal(a, b), (set_name, stem)


@pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='checks CPU (gloo) DDP')
def test_dist_test_two_processes_two_sets_match_one_process(multi_set, tmp_path):
    """tools/dist_test.sh, 2 CPU processes (torchrun + gloo), 6 images in 2 sets: the gathered
    per-set metrics equal the single-process ones and each set's PNGs land in its folder."""
    import json
    import os
    import socket
    import subprocess
    import sys
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    single = _run([
        multi_set['multi_config'], multi_set['checkpoint'], '--work-dir',
        str(tmp_path / 'single')
    ])
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
    out, metrics = tmp_path / 'preds', tmp_path / 'metrics.json'
    proc = subprocess.run([
        'bash',
        osp.join(tiny.REPO_ROOT, 'tools', 'dist_test.sh'), multi_set['multi_config'],
        multi_set['checkpoint'], '2', '--work-dir',
        str(tmp_path / 'dist'), '--out',
        str(out), '--metrics-out',
        str(metrics)
    ],
                          capture_output=True,
                          text=True,
                          cwd=tiny.REPO_ROOT,
                          env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'test metrics, 2 test sets:' in proc.stdout
    with open(metrics) as f:
        dist = json.load(f)
    assert dist == pytest.approx(single, abs=1e-9)
    assert len(os.listdir(out / 'A')) == len(tiny.STEMS)
    assert len(os.listdir(out / 'B')) == 2


# --- issue 17, item 1: outputs never go into a dataset folder, never replace others' files -------
def _own_two_sets(tmp_path):
    """Two sets written for this test only (the refusals must never touch shared data):
    ``data/A`` (4 images) and ``data/B`` (2 images, a MultiSetDataset member)."""
    root_a = tiny.write_dataset(tmp_path / 'data' / 'A')
    root_b = tiny.write_dataset(tmp_path / 'data' / 'B', stems=tiny.STEMS[:2])
    config = tiny.write_config(tmp_path / 'multi.py', root_a,
                               MULTI_SET_EXTRA.format(root_a=root_a, root_b=root_b))
    return config


def _files(folder):
    return {
        osp.join(root, n): open(osp.join(root, n), 'rb').read()
        for root, _, names in __import__('os').walk(folder)
        for n in names
    }


@pytest.mark.parametrize(
    'flag,target',
    [
        ('--out', 'data/A/masks'),  # the ground truth of set A
        ('--out', 'data/B/images'),  # the (PNG) images of a MultiSetDataset member
        ('--show-dir', 'data/A/masks/painted'),  # inside a dataset folder
        ('--curve-dir', 'data/B'),  # holds dataset folders
    ])
def test_outputs_in_a_dataset_folder_are_refused(tmp_path, flag, target):
    config = _own_two_sets(tmp_path)
    before = _files(tmp_path / 'data')
    with pytest.raises(SystemExit) as e:
        _run([config, 'none', '--work-dir', str(tmp_path / 'w'), flag, str(tmp_path / target)])
    msg = str(e.value)
    assert msg.startswith('tools/test.py: error: ') and f'{flag} {tmp_path / target}' in msg, msg
    assert 'dataset folder' in msg
    assert _files(tmp_path / 'data') == before  # nothing written, nothing replaced


def test_existing_outputs_are_replaced_only_with_overwrite(tmp_path):
    config = _own_two_sets(tmp_path)
    out, curves, show = tmp_path / 'preds', tmp_path / 'curves', tmp_path / 'show'
    victims = {
        '--out': out / 'A' / f'{tiny.STEMS[0]}.png',
        '--curve-dir': curves / 'B' / 'curves.json',
        '--show-dir': show / 'vis_data' / 'config.py',
    }
    for path in victims.values():
        path.parent.mkdir(parents=True)
        path.write_bytes(b'an earlier run')
    folders = {'--out': out, '--curve-dir': curves, '--show-dir': show}
    for flag, folder in folders.items():
        with pytest.raises(SystemExit, match='--overwrite') as e:
            _run([config, 'none', '--work-dir', str(tmp_path / 'w'), flag, str(folder)])
        assert str(victims[flag]) in str(e.value)
        assert victims[flag].read_bytes() == b'an earlier run'
    # a folder with other files only is fine; with --overwrite the earlier files are replaced
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'notes.txt').write_text('mine')
    _run([config, 'none', '--work-dir', str(tmp_path / 'w'), '--out', str(tmp_path / 'other')])
    assert (tmp_path / 'other' / 'notes.txt').read_text() == 'mine'
    args = [config, 'none', '--work-dir', str(tmp_path / 'w'), '--overwrite']
    _run(args + [f'{flag}={folder}' for flag, folder in folders.items()])
    for flag, path in victims.items():
        assert path.read_bytes() != b'an earlier run', flag
