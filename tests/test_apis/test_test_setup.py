"""dbdseg.apis.test_setup: the config edits of a test run (evaluator folders, TTA pipeline,
visualisation hook, work dir)."""
import os.path as osp

import pytest
from mmengine.config import Config

from dbdseg.apis.test_setup import (configure_evaluator, evaluator_metric_cfgs, metric_init_params,
                                    protect_config_file, set_test_pipeline,
                                    trigger_visualization_hook)


def test_evaluator_list_and_wrapper_forms(tmp_path):
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=[dict(type='SODMetric'),
                            dict(type='IoUMetric', iou_metrics=['mIoU'])]))
    configure_evaluator(cfg, out_dir='preds', curve_dir=None)
    sod, iou = cfg.test_evaluator
    # two metrics save predictions: one sub-folder each
    assert sod['output_dir'] == osp.join('preds', 'SODMetric_0')
    assert iou['output_dir'] == osp.join('preds', 'IoUMetric_1')
    assert sod['curve_dir'] == str(tmp_path) and 'curve_dir' not in iou
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=[
                dict(type='SODMetric', prefix='ECSSD'),
                dict(type='SODMetric', prefix='DUTS')
            ]))
    configure_evaluator(cfg, out_dir='preds')
    assert [m['output_dir']
            for m in cfg.test_evaluator] == [osp.join('preds', 'ECSSD'),
                                             osp.join('preds', 'DUTS')]
    assert [m['curve_dir'] for m in cfg.test_evaluator
            ] == [osp.join(str(tmp_path), 'ECSSD'),
                  osp.join(str(tmp_path), 'DUTS')]
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=dict(type='Evaluator', metrics=dict(type='SODMetric',
                                                               curve_dir='keep'))))
    configure_evaluator(cfg, out_dir=None, curve_dir=None)
    assert cfg.test_evaluator.metrics.curve_dir == 'keep'
    configure_evaluator(cfg, out_dir=None, curve_dir='cli')
    assert cfg.test_evaluator.metrics.curve_dir == 'cli'


def test_explicit_work_dir_beats_curve_dir_of_a_dumped_config(tmp_path):
    """A config dumped by an earlier test run carries its curve_dir; --work-dir must win over it so
    the earlier run's curves are not overwritten."""
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path / 'new'),
            test_evaluator=dict(type='SODMetric', curve_dir=str(tmp_path / 'old'))))
    configure_evaluator(cfg, work_dir_from_cli=True)
    assert cfg.test_evaluator.curve_dir == str(tmp_path / 'new')


def test_evaluator_errors():
    with pytest.raises(ValueError, match='no test_evaluator'):
        evaluator_metric_cfgs(Config(dict()))
    with pytest.raises(ValueError, match='unsupported test_evaluator'):
        evaluator_metric_cfgs(Config(dict(test_evaluator='SODMetric')))
    # non-dict entries of a list are left out; the dicts come back by reference
    cfg = Config(dict(test_evaluator=[dict(type='SODMetric'), 'x']))
    metrics = evaluator_metric_cfgs(cfg)
    assert len(metrics) == 1 and metrics[0] is cfg.test_evaluator[0]


def test_out_without_a_saving_metric_is_an_error(tmp_path):
    from mmengine.evaluator import BaseMetric

    class _NoOutMetric(BaseMetric):

        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    cfg = Config(
        dict(default_scope='mmseg', work_dir=str(tmp_path), test_evaluator=dict(type=_NoOutMetric)))
    assert 'output_dir' not in metric_init_params(cfg.test_evaluator, 'mmseg')
    assert 'output_dir' in metric_init_params(dict(type='SODMetric'), 'mmseg')
    assert metric_init_params(dict(type='NoSuchMetric'), 'mmseg') == set()
    with pytest.raises(ValueError, match='--out needs a test metric that saves predictions'):
        configure_evaluator(cfg, out_dir='preds')


def test_set_test_pipeline_reaches_every_member_dataset():
    tta = [dict(type='LoadImageFromFile'), dict(type='TestTimeAug', transforms=[])]
    ds = dict(
        type='MultiSetDataset',
        datasets=[
            dict(type='BinarySegDataset', pipeline=['old']),
            dict(type='RepeatDataset', times=2, dataset=dict(type='BinarySegDataset', pipeline=[])),
        ])
    assert set_test_pipeline(ds, tta) == 2
    assert ds['datasets'][0]['pipeline'] == tta
    assert ds['datasets'][1]['dataset']['pipeline'] == tta
    assert 'pipeline' not in ds and 'pipeline' not in ds['datasets'][1]
    # a copy each: editing one member's pipeline leaves the others alone
    ds['datasets'][0]['pipeline'].append('x')
    assert len(ds['datasets'][1]['dataset']['pipeline']) == 2
    with pytest.raises(ValueError, match='TTA pipeline'):
        set_test_pipeline(dict(datasets=[]), tta)


def test_a_metric_with_a_metrics_key_is_one_metric(tmp_path):
    """Only ``type='Evaluator'`` (or no type) with ``metrics`` is an Evaluator wrapper; a metric
    dict that has a ``metrics`` key of its own is one metric."""
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=dict(type='SODMetric', sod_metrics=['MAE'])))
    configure_evaluator(cfg, out_dir=str(tmp_path / 'preds'))
    assert cfg.test_evaluator['output_dir'] == str(tmp_path / 'preds')
    assert cfg.test_evaluator['sod_metrics'] == ['MAE']
    metric = dict(type='OtherMetric', metrics=['a'])
    assert evaluator_metric_cfgs(Config(dict(test_evaluator=metric))) == [metric]
    wrapped = dict(metrics=[dict(type='SODMetric'), dict(type='IoUMetric')])
    assert [m['type'] for m in evaluator_metric_cfgs(Config(dict(test_evaluator=wrapped)))
            ] == ['SODMetric', 'IoUMetric']


def test_visualization_hook_added_when_missing(tmp_path):
    cfg = Config(dict(work_dir=str(tmp_path)))
    cfg = trigger_visualization_hook(cfg, show_dir=str(tmp_path / 'show'))
    hook = cfg.default_hooks.visualization
    assert hook.type == 'SegVisualizationHook' and hook.draw is True and hook.interval == 1
    assert 'show' not in hook
    assert cfg.visualizer.save_dir == str(tmp_path / 'show')
    assert cfg.visualizer.type == 'BinarySegLocalVisualizer'
    # a config written for mmseg's visualizer gets dbdseg's (heat maps for 1-channel maps)
    cfg = Config(dict(work_dir=str(tmp_path), visualizer=dict(type='SegLocalVisualizer', name='v')))
    cfg = trigger_visualization_hook(cfg, show=True, wait_time=0.5)
    assert cfg.visualizer.type == 'BinarySegLocalVisualizer' and cfg.visualizer.name == 'v'
    assert 'save_dir' not in cfg.visualizer
    assert cfg.default_hooks.visualization.show is True
    assert cfg.default_hooks.visualization.wait_time == 0.5


def test_config_in_its_own_work_dir_is_not_overwritten(tmp_path):
    config = tmp_path / 'config.py'
    config.write_text('x = 1\n')
    assert protect_config_file(str(tmp_path), str(config)) == osp.join(str(tmp_path), 'test')
    other = tmp_path / 'elsewhere'
    assert protect_config_file(str(other), str(config)) == str(other)


def test_drop_training_parts_leaves_a_test_only_config():
    from dbdseg.apis.test_setup import TRAINING_KEYS, drop_training_parts
    cfg = Config(
        dict(
            train_dataloader=dict(dataset=dict(data_root='train')),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=4),
            optim_wrapper=dict(type='OptimWrapper'),
            param_scheduler=[],
            val_dataloader=dict(dataset=dict(data_root='val')),
            val_cfg=dict(type='ValLoop'),
            val_evaluator=dict(type='SODMetric'),
            test_dataloader=dict(dataset=dict(data_root='test')),
            test_cfg=dict(type='TestLoop'),
            test_evaluator=dict(type='SODMetric')))
    dropped = drop_training_parts(cfg)
    # an empty param_scheduler list counts as given (only None is "not given")
    assert dropped == [k for k in TRAINING_KEYS if k != 'auto_scale_lr']
    assert all(cfg[k] is None for k in dropped)
    assert cfg.test_dataloader.dataset.data_root == 'test'
    assert cfg.test_cfg.type == 'TestLoop' and cfg.test_evaluator.type == 'SODMetric'
    assert drop_training_parts(cfg) == []


def test_per_image_csv_goes_to_the_first_sod_metric(tmp_path):
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=[
                dict(type='IoUMetric', iou_metrics=['mIoU']),
                dict(type='SODMetric'),
                dict(type='SODMetric', prefix='second')
            ]))
    configure_evaluator(cfg, per_image_csv='rows.csv')
    assert 'per_image_csv' not in cfg.test_evaluator[0]
    assert cfg.test_evaluator[1]['per_image_csv'] == 'rows.csv'
    assert 'per_image_csv' not in cfg.test_evaluator[2]
    cfg = Config(
        dict(
            default_scope='mmseg',
            work_dir=str(tmp_path),
            test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU'])))
    with pytest.raises(ValueError, match='--per-image-csv needs'):
        configure_evaluator(cfg, per_image_csv='rows.csv')
