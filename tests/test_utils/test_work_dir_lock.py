"""dbdseg.utils.work_dir_lock: the exclusive work-dir lock, with flock and with the pid record."""
import json
import os
import socket
import subprocess
import sys

import pytest

from dbdseg.utils import work_dir_lock as wdl
from dbdseg.utils.work_dir_lock import LOCK_NAME, WorkDirLock, WorkDirLockedError


def _dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def _write_record(folder, **record):
    folder.mkdir(exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps(record))


@pytest.fixture(params=['flock', 'record'])
def mode(request, monkeypatch):
    if request.param == 'record':  # as on Windows / file systems without locks
        monkeypatch.setattr(wdl, 'fcntl', None)
    elif wdl.fcntl is None:  # pragma: no cover
        pytest.skip('no fcntl here')
    return request.param


def test_second_lock_is_refused_naming_the_holder(tmp_path, mode):
    first = WorkDirLock(tmp_path / 'w').acquire()
    record = json.loads((tmp_path / 'w' / LOCK_NAME).read_text())
    assert record['pid'] == os.getpid() and record['host'] == socket.gethostname()
    assert record['argv'] == sys.argv and record['started']
    with pytest.raises(WorkDirLockedError) as info:
        WorkDirLock(tmp_path / 'w').acquire()
    message = str(info.value)
    assert f'pid {os.getpid()} on host {socket.gethostname()} (this process' in message
    assert str(tmp_path / 'w' / LOCK_NAME) in message and '--work-dir' in message
    first.release()
    assert not (tmp_path / 'w' / LOCK_NAME).exists()
    with WorkDirLock(tmp_path / 'w') as again:  # free again
        assert again.held and again.stale is None
    assert not again.held and not (tmp_path / 'w' / LOCK_NAME).exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, mode):
    pid = _dead_pid()
    _write_record(tmp_path, pid=pid, host=socket.gethostname(), started='yesterday', argv=['x'])
    lock = WorkDirLock(tmp_path).acquire()
    assert lock.held
    assert lock.stale['pid'] == pid and lock.stale['alive'] is False
    assert json.loads((tmp_path / LOCK_NAME).read_text())['pid'] == os.getpid()
    assert f'pid {pid} on host' in wdl.describe_holder(lock.stale)
    lock.release()


def test_record_of_a_live_process_elsewhere_is_respected_without_flock(tmp_path, monkeypatch):
    monkeypatch.setattr(wdl, 'fcntl', None)
    _write_record(tmp_path, pid=os.getppid(), host=socket.gethostname())  # alive
    with pytest.raises(WorkDirLockedError, match=f'pid {os.getppid()} '):
        WorkDirLock(tmp_path).acquire()
    _write_record(tmp_path, pid=1234, host='another-host')
    with pytest.raises(WorkDirLockedError, match='delete the lock file'):
        WorkDirLock(tmp_path).acquire()
    assert json.loads((tmp_path / LOCK_NAME).read_text())['host'] == 'another-host'  # untouched


def test_flock_is_what_decides_where_available(tmp_path):
    """With flock, a record naming a live process that holds no lock (e.g. a reused pid) is
    stale; the kernel's lock is the truth."""
    if wdl.fcntl is None:  # pragma: no cover
        pytest.skip('no fcntl here')
    _write_record(tmp_path, pid=os.getppid(), host=socket.gethostname())
    lock = WorkDirLock(tmp_path).acquire()
    assert lock.stale['pid'] == os.getppid() and lock.stale['alive'] is True
    lock.release()


def test_lock_file_cannot_be_created(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(OSError, match='work dir'):
        WorkDirLock(tmp_path / 'file' / 'sub').acquire()
