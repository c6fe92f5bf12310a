"""Exact resume after SIGKILL: tools/train.py killed mid-run, and killed while writing a checkpoint,
resumed with ``--resume``, ends with the same weights (bit for bit) as an uninterrupted run.

Four processes (``OMP_NUM_THREADS=1``, 2 dataloader workers with persistent workers, random
resize/crop/flip, Python ``random``, dropout, validation and best-score saves at every checkpoint):

1. reference: 8 iterations uninterrupted (checkpoint and validation every 4), run at the same time
   as run A;
2. run A: SIGKILL in iteration 6 (``iter_4.pth`` written, validation at 4 done, batch 5 fetched);
3. run B: ``--resume`` (from ``iter_4.pth``), SIGKILL half-way through writing ``iter_8.pth``:
   the final name never holds a partial file and ``last_checkpoint`` still names ``iter_4.pth``;
4. run C: ``--resume`` again (from ``iter_4.pth``), to iteration 8: weights and optimizer state
   equal to the reference.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils.checkpoint import install_checkpoint_guard

_spec = importlib.util.spec_from_file_location(
    'dbdseg_tests_rng_helpers', osp.join(osp.dirname(__file__), 'test_rng_state_hook.py'))
rng = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rng)

pytestmark = pytest.mark.slow

REPORT_ENV = 'DBDSEG_H9_REPORT_DIR'  # when set, the test writes its figures there as JSON

#: checkpoints (and validation, best-score saves) every 4 iterations of 8
SCHEDULE = ['--cfg-options', 'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4']


def _start(project, config, work_dir, *args):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            [project['helper_dir'], tiny.REPO_ROOT,
             os.environ.get('PYTHONPATH', '')]))
    return subprocess.Popen([
        sys.executable,
        osp.join(tiny.REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
        str(work_dir), *args, *SCHEDULE
    ],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True,
                            cwd=tiny.REPO_ROOT,
                            env=env), time.time()


def _wait(started):
    proc, t0 = started
    _, err = proc.communicate(timeout=600)
    proc.stderr_text = err
    return proc, time.time() - t0


def _train(project, config, work_dir, *args):
    return _wait(_start(project, config, work_dir, *args))


def _child_config(project, name, hooks):
    path = osp.join(project['helper_dir'], f'{name}.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = ['rng_cfg.py']\ncustom_hooks = {hooks!r}\n")
    return path


def test_sigkill_mid_run_and_mid_save_then_resume_is_exact(tmp_path):
    project = rng.rng_project_write(tmp_path, num_workers=2, persistent=True, max_iters=8)
    rng_hook = dict(type='RNGStateHook')
    kill_a = _child_config(
        project, 'kill_a',
        [rng_hook, dict(type='KillAtIterHook', at_iter=5, how='sigkill')])
    kill_b = _child_config(
        project, 'kill_b',
        [rng_hook, dict(type='KillWhileSavingHook', at_iter=8, how='sigkill')])
    figures = {}

    work = tmp_path / 'run'
    ref_started = _start(project, project['config'], tmp_path / 'ref')  # both at once
    proc, figures['run_a_s'] = _train(project, kill_a, work)
    assert proc.returncode == -9, (proc.returncode, proc.stderr_text[-3000:])  # SIGKILL
    assert (work / 'iter_4.pth').is_file() and not (work / 'iter_8.pth').exists()
    assert (work / 'last_checkpoint').read_text().endswith('iter_4.pth')

    proc, figures['run_b_s'] = _train(project, kill_b, work, '--resume')
    assert proc.returncode == -9, (proc.returncode, proc.stderr_text[-3000:])
    partial = [n for n in os.listdir(work) if n.startswith('.tmp_') and n.endswith('.part')]
    assert len(partial) == 1 and 'iter_8.pth' in partial[0]  # the half-written file
    assert not (work / 'iter_8.pth').exists()  # never under the final name
    assert (work / 'last_checkpoint').read_text().endswith('iter_4.pth')
    figures['partial_file_bytes'] = os.path.getsize(work / partial[0])
    figures['iter_4_bytes'] = os.path.getsize(work / 'iter_4.pth')

    proc, figures['reference_s'] = _wait(ref_started)
    assert proc.returncode == 0, proc.stderr_text[-3000:]
    proc, figures['run_c_s'] = _train(project, project['config'], work, '--resume')
    assert proc.returncode == 0, proc.stderr_text[-3000:]
    assert not [n for n in os.listdir(work) if n.endswith('.part')]  # stale temp file removed

    install_checkpoint_guard()  # as the entry points do before loading a checkpoint
    ref = torch.load(str(tmp_path / 'ref' / 'iter_8.pth'), map_location='cpu')
    res = torch.load(str(work / 'iter_8.pth'), map_location='cpu')
    assert ref['meta']['iter'] == res['meta']['iter'] == 8
    diff = rng.max_abs_diff(res['state_dict'], ref['state_dict'])
    figures['max_abs_weight_diff'] = diff
    figures['n_tensors'] = len(ref['state_dict'])
    assert diff == 0.0
    for key in ref['state_dict']:
        assert torch.equal(ref['state_dict'][key], res['state_dict'][key]), key
    # the optimizer state is the same too
    for a, b in zip(ref['optimizer']['state'].values(), res['optimizer']['state'].values()):
        assert torch.equal(a['exp_avg'], b['exp_avg'])
    if os.environ.get(REPORT_ENV):
        with open(osp.join(os.environ[REPORT_ENV], 'resume_after_kill.json'), 'w') as f:
            json.dump(figures, f, indent=2)
