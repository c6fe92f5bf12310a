"""tools/test.py: predictions, metrics JSON, curves, ``none`` checkpoint, evaluator handling."""
import json
import os
import os.path as osp

import cv2
import pytest
from mmengine.config import Config

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

test_tool = tiny.load_tool('test')

SOD_KEYS = ('maxF', 'meanF', 'adpF', 'MAE', 'Sm', 'maxE', 'meanE', 'adpE', 'wF')


def _run(args):
    # fresh experiment / visualizer names: in one process mmengine reuses instances by name
    name = tiny.unique_name('test')
    return test_tool.main(args + ['--cfg-options', f'experiment_name={name}',
                                  f'visualizer.name={name}'])


def test_test_with_checkpoint_writes_predictions_and_metrics(trained, tmp_path):
    out_dir = tmp_path / 'preds'
    metrics_json = tmp_path / 'sub' / 'metrics.json'
    work_dir = tmp_path / 'work'
    flat = _run([trained['config'], trained['checkpoint'], '--work-dir', str(work_dir), '--out',
                 str(out_dir), '--metrics-out', str(metrics_json)])
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
    flat = _run([trained['config'], 'none', '--work-dir', str(tmp_path), '--curve-dir',
                 str(tmp_path / 'curves')])
    assert 'maxF' in flat and 'MAE' in flat
    assert (tmp_path / 'curves' / 'curves.json').is_file()


def test_test_missing_checkpoint_names_it(trained, tmp_path):
    missing = str(tmp_path / 'gone' / 'best_model.pth')
    with pytest.raises(SystemExit, match='best_model.pth'):
        _run([trained['config'], missing, '--work-dir', str(tmp_path)])


def test_test_show_dir(trained, tmp_path):
    show_dir = tmp_path / 'show'
    _run([trained['config'], trained['checkpoint'], '--work-dir', str(tmp_path / 'w'),
          '--show-dir', str(show_dir)])
    drawn = [f for _, _, files in os.walk(show_dir) for f in files if f.endswith('.png')]
    assert len(drawn) == len(tiny.STEMS)


def test_evaluator_list_and_wrapper_forms(tmp_path):
    cfg = Config(dict(default_scope='mmseg', work_dir=str(tmp_path),
                      test_evaluator=[dict(type='SODMetric'),
                                      dict(type='IoUMetric', iou_metrics=['mIoU'])]))
    test_tool.configure_evaluator(cfg, out_dir='preds', curve_dir=None)
    sod, iou = cfg.test_evaluator
    # two metrics save predictions: one sub-folder each
    assert sod['output_dir'] == osp.join('preds', 'SODMetric_0')
    assert iou['output_dir'] == osp.join('preds', 'IoUMetric_1')
    assert sod['curve_dir'] == str(tmp_path) and 'curve_dir' not in iou
    cfg = Config(dict(default_scope='mmseg', work_dir=str(tmp_path),
                      test_evaluator=[dict(type='SODMetric', prefix='ECSSD'),
                                      dict(type='SODMetric', prefix='DUTS')]))
    test_tool.configure_evaluator(cfg, out_dir='preds')
    assert [m['output_dir'] for m in cfg.test_evaluator] == [
        osp.join('preds', 'ECSSD'), osp.join('preds', 'DUTS')]
    assert [m['curve_dir'] for m in cfg.test_evaluator] == [
        osp.join(str(tmp_path), 'ECSSD'), osp.join(str(tmp_path), 'DUTS')]
    cfg = Config(dict(default_scope='mmseg', work_dir=str(tmp_path),
                      test_evaluator=dict(type='Evaluator',
                                          metrics=dict(type='SODMetric', curve_dir='keep'))))
    test_tool.configure_evaluator(cfg, out_dir=None, curve_dir=None)
    assert cfg.test_evaluator.metrics.curve_dir == 'keep'
    test_tool.configure_evaluator(cfg, out_dir=None, curve_dir='cli')
    assert cfg.test_evaluator.metrics.curve_dir == 'cli'


def test_explicit_work_dir_beats_curve_dir_of_a_dumped_config(tmp_path):
    """A config dumped by an earlier test run carries its curve_dir; --work-dir must win over it so
    the earlier run's curves are not overwritten."""
    cfg = Config(dict(default_scope='mmseg', work_dir=str(tmp_path / 'new'),
                      test_evaluator=dict(type='SODMetric', curve_dir=str(tmp_path / 'old'))))
    test_tool.configure_evaluator(cfg, work_dir_from_cli=True)
    assert cfg.test_evaluator.curve_dir == str(tmp_path / 'new')


def test_visualization_hook_added_when_missing(tmp_path):
    import argparse
    cfg = Config(dict(work_dir=str(tmp_path)))
    args = argparse.Namespace(show=False, show_dir=str(tmp_path / 'show'), wait_time=2)
    cfg = test_tool.trigger_visualization_hook(cfg, args)
    hook = cfg.default_hooks.visualization
    assert hook.type == 'SegVisualizationHook' and hook.draw is True and hook.interval == 1
    assert cfg.visualizer.save_dir == str(tmp_path / 'show')
    assert cfg.visualizer.type == 'BinarySegLocalVisualizer'
    # a config written for mmseg's visualizer gets dbdseg's (heat maps for 1-channel maps)
    cfg = Config(dict(work_dir=str(tmp_path), visualizer=dict(type='SegLocalVisualizer',
                                                               name='v')))
    cfg = test_tool.trigger_visualization_hook(cfg, args)
    assert cfg.visualizer.type == 'BinarySegLocalVisualizer' and cfg.visualizer.name == 'v'


def test_out_without_a_saving_metric_is_an_error(tmp_path):
    from mmengine.evaluator import BaseMetric

    class _NoOutMetric(BaseMetric):

        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    cfg = Config(dict(default_scope='mmseg', work_dir=str(tmp_path),
                      test_evaluator=dict(type=_NoOutMetric)))
    assert 'output_dir' not in test_tool.metric_init_params(cfg.test_evaluator, 'mmseg')
    with pytest.raises(SystemExit, match='--out'):
        test_tool.configure_evaluator(cfg, out_dir='preds')


def test_flatten_metrics():
    import numpy as np
    import torch
    flat, skipped = test_tool.flatten_metrics(
        {'maxF': 0.9, 'n': 3, 'np': np.float32(0.5), 't': torch.tensor(0.25),
         'ECSSD': {'MAE': 0.1}, 'curve': [0.1, 0.2], 'name': 'x'})
    assert flat == {'maxF': 0.9, 'n': 3.0, 'np': 0.5, 't': 0.25, 'ECSSD/MAE': pytest.approx(0.1)}
    assert sorted(skipped) == ['curve', 'name']
    assert all(type(v) is float for v in flat.values())


def test_metrics_out_unwritable_is_clear(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match='metrics file'):
        test_tool.write_json_atomic(str(blocker / 'm.json'), {'a': 1.0})
    test_tool.write_json_atomic(str(tmp_path / 'ok.json'), {'a': 1.0})
    assert json.loads((tmp_path / 'ok.json').read_text()) == {'a': 1.0}
    assert sorted(os.listdir(tmp_path)) == ['a_file', 'ok.json']


def test_none_is_case_insensitive():
    assert test_tool.check_checkpoint('None') is None
    assert test_tool.check_checkpoint('https://example.org/x.pth') == 'https://example.org/x.pth'


def test_config_in_its_own_work_dir_is_not_overwritten(tmp_path):
    config = tmp_path / 'config.py'
    config.write_text('x = 1\n')
    assert test_tool.protect_config_file(str(tmp_path), str(config)) == osp.join(str(tmp_path),
                                                                                   'test')
    other = tmp_path / 'elsewhere'
    assert test_tool.protect_config_file(str(other), str(config)) == str(other)
