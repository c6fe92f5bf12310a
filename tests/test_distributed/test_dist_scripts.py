"""tools/dist_test.sh and tools/dist_train.sh leave no `.dist_test/` in the current folder
(mmengine's default gathering folder, made by configs without dbdseg's AtomicCheckpointHook) and
return torchrun's exit status. A stand-in interpreter (``PYTHON``) plays torchrun: it makes the
folder as mmengine does and exits with status 3."""
import os
import os.path as osp
import stat
import subprocess

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _fake_python(tmp_path):
    path = tmp_path / 'fake_python'
    path.write_text('#!/bin/sh\nmkdir -p .dist_test\necho "$@" > args.txt\nexit 3\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.parametrize('script,args', [('dist_test.sh', ['cfg.py', 'ckpt.pth', '2', '--x']),
                                         ('dist_train.sh', ['cfg.py', '2', '--x'])])
def test_dist_scripts_remove_the_gathering_folder_they_made(tmp_path, script, args):
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    env = dict(os.environ, PYTHON=_fake_python(tmp_path))
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args],
                          cwd=str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stderr  # the launcher's status
    assert sorted(os.listdir(cwd)) == ['args.txt']  # no `.dist_test/`
    assert '--launcher pytorch --x' in (cwd / 'args.txt').read_text()

    # a folder that was there before (another run's) is kept
    (cwd / '.dist_test').mkdir()
    proc = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', script), *args],
                          cwd=str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 3
    assert (cwd / '.dist_test').is_dir()
