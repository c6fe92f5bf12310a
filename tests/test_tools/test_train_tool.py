"""tools/train.py (a shim over dbdseg.cli.train): a short CPU training run, command-line errors,
DDP scripts, checkpoints that do not fit. The helpers: tests/test_cli/test_train.py."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

train_tool = tiny.load_tool('train')


def test_train_writes_checkpoints(trained):
    work_dir = trained['work_dir']
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_4.pth')
    best = glob.glob(osp.join(work_dir, 'best_maxF_iter_*.pth'))
    assert len(best) == 1, os.listdir(work_dir)
    ckpt = torch.load(trained['checkpoint'], map_location='cpu')  # weights_only default
    assert 'state_dict' in ckpt and ckpt['meta']['iter'] == 4


def test_missing_config_names_it(tmp_path):
    missing = str(tmp_path / 'absent_cfg.py')
    with pytest.raises(SystemExit, match='absent_cfg.py'):
        train_tool.main([missing])


def test_resume_missing_checkpoint_names_it(tiny_project, tmp_path):
    missing = str(tmp_path / 'absent_iter.pth')
    with pytest.raises(SystemExit, match='absent_iter.pth'):
        train_tool.main([tiny_project['config'], '--work-dir', str(tmp_path), '--resume', missing])


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU --amp error')
def test_amp_on_cpu_is_a_clear_error(tiny_project, tmp_path):
    with pytest.raises(SystemExit, match='needs a GPU'):
        train_tool.main([tiny_project['config'], '--work-dir', str(tmp_path), '--amp'])


def test_tool_is_the_dbdseg_train_command():
    """tools/train.py has the options of ``dbdseg train`` (its help, with its own name)."""

    def help_text(*cmd):
        proc = subprocess.run([sys.executable, *cmd, '--help'],
                              capture_output=True,
                              text=True,
                              cwd=tiny.REPO_ROOT,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    tool = help_text(osp.join('tools', 'train.py'))
    command = help_text('-m', 'dbdseg', 'train')
    assert tool.startswith('usage: tools/train.py ')
    assert '--resume' in tool and '--unsafe-load-trusted-checkpoint' in tool

    def arguments(text):  # the argument sections, white space normalised
        return ' '.join(text.split('positional arguments:', 1)[1].split())

    assert arguments(tool) == arguments(command)


def test_cli_entry_point_error_exit_status(tmp_path):
    """Running the script: a missing config exits with status 1 and names the file."""
    repo = tiny.REPO_ROOT
    proc = subprocess.run(
        [sys.executable,
         osp.join(repo, 'tools', 'train.py'),
         str(tmp_path / 'nope.py')],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300)
    assert proc.returncode == 1
    assert 'nope.py' in proc.stderr


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks CPU (gloo) DDP')
def test_dist_train_and_test_scripts_cpu_gloo(tiny_project, tmp_path):
    """tools/dist_train.sh / dist_test.sh with 2 CPU processes (torchrun + gloo); ~30 s."""
    repo = tiny.REPO_ROOT
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    work_dir = tmp_path / 'work'
    proc = subprocess.run([
        'bash',
        osp.join(repo, 'tools', 'dist_train.sh'), tiny_project['config'], '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_iters=2', 'log_level=INFO'
    ],
                          capture_output=True,
                          text=True,
                          cwd=repo,
                          env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work_dir / 'iter_2.pth').is_file()
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert logs and 'Distributed training: True' in open(logs[0]).read()

    env['PORT'] = str(_free_port())
    out_dir, metrics = tmp_path / 'preds', tmp_path / 'metrics.json'
    proc = subprocess.run([
        'bash',
        osp.join(repo, 'tools', 'dist_test.sh'), tiny_project['config'],
        str(work_dir / 'iter_2.pth'), '2', '--work-dir',
        str(tmp_path / 'test_work'), '--out',
        str(out_dir), '--metrics-out',
        str(metrics)
    ],
                          capture_output=True,
                          text=True,
                          cwd=repo,
                          env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(os.listdir(out_dir)) == [f'{s}.png' for s in tiny.STEMS]
    assert 'maxF' in open(metrics).read()


# --------------------------------------------------------------------------------------------
# issue 17, item 5: load_from / --resume with a checkpoint that does not fit
# --------------------------------------------------------------------------------------------
def _variant(trained, tmp_path, name, edit, keep_meta=True):
    ckpt = torch.load(trained['checkpoint'], map_location='cpu')
    out = dict(ckpt) if keep_meta else {}
    out['state_dict'] = edit(dict(ckpt['state_dict']))
    path = str(tmp_path / f'{name}.pth')
    torch.save(out, path)
    return path


def _short_run(config, work_dir, *extra):
    return train_tool.main([
        config, '--work-dir',
        str(work_dir), *extra, '--cfg-options', f'experiment_name={tiny.unique_name("lf")}',
        'train_cfg.max_iters=1', 'train_cfg.val_interval=10'
    ])


def test_load_from_that_matches_nothing_is_an_error(trained, tmp_path):
    path = _variant(trained, tmp_path, 'other_arch', lambda sd: {'fc.weight': torch.zeros(3, 4)})
    with pytest.raises(SystemExit) as e:
        _short_run(trained['config'], tmp_path / 'w', '--cfg-options', f'load_from={path}')
    msg = str(e.value)
    assert msg.startswith('tools/train.py: error:') and 'other_arch.pth' in msg, msg
    assert 'none of' in msg and 'fc.weight' in msg, msg
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))


def test_load_from_with_missing_keys_warns_listing_them(trained, tmp_path):
    path = _variant(trained, tmp_path, 'no_head', lambda sd: {
        k: v
        for k, v in sd.items() if not k.startswith('decode_head.')
    })
    work_dir = tmp_path / 'w'
    train_tool.main([
        trained['config'], '--work-dir',
        str(work_dir), '--cfg-options', f'experiment_name={tiny.unique_name("lf")}',
        'train_cfg.max_iters=1', 'train_cfg.val_interval=10', f'load_from={path}'
    ])
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    text = open(logs[0]).read()
    assert 'no_head.pth' in text and 'missing' in text
    assert 'decode_head.conv_seg.weight' in text and 'decode_head.conv_seg.bias' in text


def test_resume_from_a_checkpoint_without_meta_says_so(trained, tmp_path):
    path = _variant(trained, tmp_path, 'weights_only', lambda sd: sd, keep_meta=False)
    with pytest.raises(SystemExit) as e:
        train_tool.main([
            trained['config'], '--work-dir',
            str(tmp_path / 'w'), '--resume', path, '--cfg-options',
            f'experiment_name={tiny.unique_name("rs")}'
        ])
    msg = str(e.value)
    assert msg.startswith('tools/train.py: error:') and 'weights_only.pth' in msg, msg
    assert "'meta'" in msg and 'load_from' in msg, msg


def test_resume_from_a_checkpoint_of_another_model_is_an_error(trained, tmp_path):
    path = _variant(trained, tmp_path, 'other_arch', lambda sd: {'fc.weight': torch.zeros(3, 4)})
    with pytest.raises(SystemExit, match=r'other_arch\.pth(.|\n)*missing(.|\n)*decode_head'):
        train_tool.main([
            trained['config'], '--work-dir',
            str(tmp_path / 'w'), '--resume', path, '--cfg-options',
            f'experiment_name={tiny.unique_name("rs")}'
        ])
