"""tools/test.py: predictions, metrics JSON, curves, ``none`` checkpoint, command-line errors.

The config preparation it calls is tested in tests/test_apis/test_test_setup.py, the metrics
summary in tests/test_evaluation/test_metric_tables.py."""
import json
import os
import os.path as osp

import cv2
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

test_tool = tiny.load_tool('test')

SOD_KEYS = ('maxF', 'meanF', 'adpF', 'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF')


def _run(args):
    # fresh experiment / visualizer names: in one process mmengine reuses instances by name
    name = tiny.unique_name('test')
    return test_tool.main(args +
                          ['--cfg-options', f'experiment_name={name}', f'visualizer.name={name}'])


def test_test_with_checkpoint_writes_predictions_and_metrics(trained, tmp_path):
    out_dir = tmp_path / 'preds'
    metrics_json = tmp_path / 'sub' / 'metrics.json'
    work_dir = tmp_path / 'work'
    flat = _run([
        trained['config'], trained['checkpoint'], '--work-dir',
        str(work_dir), '--out',
        str(out_dir), '--metrics-out',
        str(metrics_json)
    ])
    # predictions: one 8-bit PNG per test image at the original size
    for stem in tiny.STEMS:
        png = out_dir / f'{stem}.png'
        assert png.is_file(), os.listdir(out_dir)
        pred = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert pred.dtype.name == 'uint8' and pred.ndim == 2
        assert pred.shape == (tiny.IMG_H, tiny.IMG_W)
        assert 0 <= pred.min() <= pred.max() <= 255
    # metrics: one flat JSON object of floats
    with open(metrics_json) as f:
        metrics = json.load(f)
    for key in SOD_KEYS:
        assert isinstance(metrics[key], float), key
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics == pytest.approx(flat)
    assert 0.0 <= metrics['MAE'] <= 1.0
    # curves in the work dir
    assert (work_dir / 'curves.json').is_file()
    assert (work_dir / 'curves.png').is_file()


def test_test_none_checkpoint(trained, tmp_path):
    flat = _run([
        trained['config'], 'none', '--work-dir',
        str(tmp_path), '--curve-dir',
        str(tmp_path / 'curves')
    ])
    assert 'maxF' in flat and 'MAE' in flat
    assert (tmp_path / 'curves' / 'curves.json').is_file()


def test_test_missing_checkpoint_names_it(trained, tmp_path):
    missing = str(tmp_path / 'gone' / 'best_model.pth')
    with pytest.raises(SystemExit, match='best_model.pth'):
        _run([trained['config'], missing, '--work-dir', str(tmp_path)])


def test_test_show_dir(trained, tmp_path):
    show_dir = tmp_path / 'show'
    _run([
        trained['config'], trained['checkpoint'], '--work-dir',
        str(tmp_path / 'w'), '--show-dir',
        str(show_dir)
    ])
    drawn = [f for _, _, files in os.walk(show_dir) for f in files if f.endswith('.png')]
    assert len(drawn) == len(tiny.STEMS)


def test_metrics_out_unwritable_is_clear(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match=r'error: cannot write metrics file .*m\.json'):
        test_tool.write_metrics_json(str(blocker / 'm.json'), {'a': 1.0})
    test_tool.write_metrics_json(str(tmp_path / 'ok.json'), {'a': 1.0})
    assert json.loads((tmp_path / 'ok.json').read_text()) == {'a': 1.0}
    assert sorted(os.listdir(tmp_path)) == ['a_file', 'ok.json']  # no temporary file left


def test_none_is_case_insensitive():
    assert test_tool.check_checkpoint('None') is None
    assert test_tool.check_checkpoint('https://example.org/x.pth') == 'https://example.org/x.pth'


def test_config_errors_of_the_package_become_command_line_errors(trained, tmp_path):
    """ValueError of dbdseg.apis.test_setup -> ``tools/test.py: error: ...`` (exit status 1)."""
    with pytest.raises(SystemExit, match='tools/test.py: error: the config has no test_evaluator'):
        _run([
            trained['config'], 'none', '--work-dir',
            str(tmp_path), '--cfg-options', 'test_evaluator=None'
        ])
    with pytest.raises(SystemExit, match='tools/test.py: error: --tta needs tta_pipeline'):
        _run([trained['config'], 'none', '--work-dir', str(tmp_path), '--tta'])


def test_cli_entry_point_runs_as_a_script(tmp_path):
    """``python tools/test.py`` (no package import tricks): a missing config is exit status 1."""
    import subprocess
    import sys
    proc = subprocess.run([
        sys.executable,
        osp.join(tiny.REPO_ROOT, 'tools', 'test.py'),
        str(tmp_path / 'absent.py'), 'none'
    ],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp_path),
                          timeout=300)
    assert proc.returncode == 1
    assert 'tools/test.py: error: config file not found' in proc.stderr
    assert 'absent.py' in proc.stderr


# --------------------------------------------------------------------------------------------
# issue 17, item 5: a checkpoint that does not fit the model is an error (no metrics of a
# random model)
# --------------------------------------------------------------------------------------------
def _checkpoint_variant(trained, tmp_path, name, edit, keep_meta=True):
    import torch
    ckpt = torch.load(trained['checkpoint'], map_location='cpu')
    out = dict(state_dict=edit(dict(ckpt['state_dict'])))
    if keep_meta:
        out['meta'] = ckpt['meta']
    path = str(tmp_path / f'{name}.pth')
    torch.save(out, path)
    return path


def test_test_refuses_checkpoints_that_do_not_fit(trained, tmp_path):
    import torch

    def wrong_shape(sd):
        sd['decode_head.conv_seg.weight'] = torch.zeros(2, 4, 1, 1)
        return sd

    def other_arch(sd):
        return dict(zip(['fc.weight'], [torch.zeros(3, 4)]))

    def no_head(sd):
        return {k: v for k, v in sd.items() if not k.startswith('decode_head.')}

    cases = {
        'other_arch': (other_arch, 'fc.weight'),
        'no_head': (no_head, 'decode_head.conv_seg.weight'),
        'wrong_shape': (wrong_shape, '(2, 4, 1, 1)'),
    }
    for name, (edit, expected) in cases.items():
        path = _checkpoint_variant(trained, tmp_path, name, edit)
        metrics = tmp_path / f'{name}.json'
        with pytest.raises(SystemExit) as e:
            _run([
                trained['config'], path, '--work-dir',
                str(tmp_path / name), '--metrics-out',
                str(metrics)
            ])
        msg = str(e.value)
        assert msg.startswith('tools/test.py: error:') and f'{name}.pth' in msg, msg
        assert expected in msg, msg
        assert not metrics.exists()  # no metrics of a partly random model
