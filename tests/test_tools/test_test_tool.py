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


# --------------------------------------------------------------------------------------------
# issue 20, item 4: testing never needs the training data; item 12: a quiet console
# --------------------------------------------------------------------------------------------
def test_show_dir_without_the_training_data(trained, tmp_path):
    """The training (and validation) folders of the config are gone: --show-dir still paints
    every test image (mmseg's visualization hook reads runner.iter, which used to build the
    train dataloader)."""
    config = tmp_path / 'no_train_data.py'
    config.write_text(
        open(trained['config']).read() + '\n'
        f"train_dataloader['dataset']['data_root'] = {str(tmp_path / 'gone_train')!r}\n"
        f"val_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], "
        f"data_root={str(tmp_path / 'gone_val')!r}))\n"
        "custom_hooks = [dict(type='RNGStateHook')]\n")
    show_dir = tmp_path / 'show'
    flat = _run([
        str(config), trained['checkpoint'], '--work-dir',
        str(tmp_path / 'w'), '--show-dir',
        str(show_dir)
    ])
    drawn = [f for _, _, files in os.walk(show_dir) for f in files if f.endswith('.png')]
    assert sorted(drawn) == sorted(f'test_{s}.png_0.png' for s in tiny.STEMS)
    assert 0.0 <= flat['MAE'] <= 1.0


def test_console_shows_the_summary_and_the_log_file_keeps_everything(trained, tmp_path, capsys):
    work_dir = tmp_path / 'w'
    _run([
        trained['config'], trained['checkpoint'], '--work-dir',
        str(work_dir), '--cfg-options', 'log_level=INFO'
    ])
    out = capsys.readouterr().out
    assert 'test metrics: maxF=' in out
    for noise in ('Config:', 'System environment', 'Hooks will be executed'):
        assert noise not in out, noise
    before_summary = out.split('test metrics:')[0].splitlines()
    assert all(' - WARNING - ' in line or 'Iter(test)' in line or 'Loads checkpoint' in line
               for line in before_summary), before_summary
    log_line = [line for line in out.splitlines() if line.startswith('  full log: ')]
    assert len(log_line) == 1
    log = open(log_line[0][len('  full log: '):]).read()
    assert str(work_dir) in log_line[0]
    for kept in ('Config:', 'System environment', 'Hooks will be executed'):
        assert kept in log, kept
    # --verbose: the full log on the console as well
    _run([
        trained['config'], trained['checkpoint'], '--work-dir',
        str(tmp_path / 'v'), '--verbose', '--cfg-options', 'log_level=INFO'
    ])
    assert 'Config:' in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# issue 18, item 13: --save-depth writes the depth side output as 16-bit PNG
# --------------------------------------------------------------------------------------------
DD_CPU_CONFIG = osp.join(tiny.REPO_ROOT, 'configs', 'depth_distillation', 'cpu_experiment',
                         'dd_r18_1xb8-300it_synthetic-defocus-160x160.py')

DD_TINY = '''
_base_ = [{base!r}]
model = dict(
    backbone=dict(base_channels=8, stem_channels=8),
    decode_head=dict(in_channels=(8, 8, 16, 32, 64)))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackBinarySegInputs'),
]
test_dataloader = dict(
    _delete_=True, batch_size=3, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BinarySegDataset', data_root={data_root!r},
                 data_prefix=dict(img_path='images', seg_map_path='masks'),
                 img_suffix='.png', seg_map_suffix='.png', pipeline=test_pipeline))
test_evaluator = dict(type='SODMetric')
log_level = 'WARNING'
'''


@pytest.fixture(scope='module')
def dd_tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('dd_tiny')
    data_root = tiny.write_dataset(root / 'data')
    config = root / 'dd_tiny.py'
    config.write_text(DD_TINY.format(base=DD_CPU_CONFIG, data_root=data_root))
    ckpt = tiny.save_untrained_checkpoint(str(config), root / 'dd_tiny.pth')
    return dict(config=str(config), checkpoint=ckpt, data_root=data_root)


def test_save_depth_writes_16_bit_maps_of_the_fused_depth(dd_tiny, tmp_path):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    depth_dir = tmp_path / 'depth'
    _run([
        dd_tiny['config'], dd_tiny['checkpoint'], '--work-dir',
        str(tmp_path / 'w'), '--save-depth',
        str(depth_dir)
    ])
    assert sorted(os.listdir(depth_dir)) == [f'{s}.png' for s in tiny.STEMS]
    # the reference: the head's fused depth, by hand, to the input size and then the image size
    cfg = Config.fromfile(dd_tiny['config'])
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(dd_tiny['checkpoint'], map_location='cpu')['state_dict'])
    model.eval()
    pipeline = Compose(cfg.test_pipeline)
    for stem in tiny.STEMS:
        saved = cv2.imread(str(depth_dir / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert saved.dtype == np.uint16 and saved.shape == (tiny.IMG_H, tiny.IMG_W)
        data = pipeline(
            dict(
                img_path=osp.join(dd_tiny['data_root'], 'images', f'{stem}.png'),
                seg_map_path=osp.join(dd_tiny['data_root'], 'masks', f'{stem}.png'),
                reduce_zero_label=False,
                seg_fields=[]))
        with torch.no_grad():
            batch = model.data_preprocessor(
                dict(inputs=[data['inputs']], data_samples=[data['data_samples']]), False)
            depth = model.decode_head._forward_all(model.extract_feat(
                batch['inputs']))['fused_depth']
        depth = F.interpolate(depth, size=batch['inputs'].shape[-2:], mode='bilinear')
        depth = F.interpolate(depth, size=(tiny.IMG_H, tiny.IMG_W), mode='bilinear')[0, 0]
        expected = np.rint(np.clip(depth.numpy(), 0, 1) * 65535)
        assert np.abs(saved.astype(np.float64) - expected).max() <= 1, stem
    # an earlier run's maps are not replaced without --overwrite
    with pytest.raises(SystemExit, match='--save-depth .* already holds 4 PNG'):
        _run([
            dd_tiny['config'], dd_tiny['checkpoint'], '--work-dir',
            str(tmp_path / 'w2'), '--save-depth',
            str(depth_dir)
        ])


def test_save_depth_needs_a_model_with_depth(trained, tmp_path):
    with pytest.raises(
            SystemExit, match='tools/test.py: error: --save-depth: the model has no '
            'depth output'):
        _run([
            trained['config'], trained['checkpoint'], '--work-dir',
            str(tmp_path / 'w'), '--save-depth',
            str(tmp_path / 'depth')
        ])
    assert not (tmp_path / 'depth').exists()
    with pytest.raises(SystemExit, match='--save-depth cannot be combined with --tta'):
        _run([trained['config'], 'none', '--save-depth', str(tmp_path / 'depth'), '--tta'])
