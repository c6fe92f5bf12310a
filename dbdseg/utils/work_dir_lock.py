"""An exclusive lock on a work dir: one training run per work dir.

Two training runs that share a work dir corrupt each other: the second one's start-up removes the
first one's in-flight temporary checkpoint as "left by a killed run", both delete each other's old
checkpoints (``max_keep_ckpts``) and ``last_checkpoint`` names whichever wrote last.
:class:`WorkDirLock` prevents it: the first run holds ``<work_dir>/.dbdseg_train.lock`` for its
whole length, a second run is refused with :class:`WorkDirLockedError`, whose message names the
process holding the lock (pid, host, start time, command line) and the lock file.

How the lock is held:

* The lock file holds a JSON record ``{"pid", "host", "started", "argv"}`` of the holder.
* Where the OS supports it (Linux, macOS; also NFSv4), the holder keeps the file open with an
  exclusive ``fcntl.flock``. The kernel drops that lock when the process ends in any way (also
  SIGKILL or a power loss of the client), so a lock file left behind by a dead process is
  *stale*: the next run detects it, takes the lock over and reports the process that left it
  (:attr:`WorkDirLock.stale`).
* Where ``flock`` is not available (Windows, file systems without locks), the record decides: a
  lock of a process that no longer runs on this host is stale and taken over; a lock of another
  host (whose processes cannot be checked) is respected, and the message says to delete the lock
  file by hand if that run is gone.

The holder removes the lock file on release (normal end, exception, ``with`` block exit). This
module imports only the standard library.
"""
import errno
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ['LOCK_NAME', 'WorkDirLock', 'WorkDirLockedError', 'describe_holder', 'pid_alive']

#: The lock file's name inside the work dir (hidden, next to ``last_checkpoint``).
LOCK_NAME = '.dbdseg_train.lock'

# flock raises these where the file system has no locks (fall back to the pid record)
_NO_LOCK_ERRNOS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, 'ENOTSUP', -1)}


class WorkDirLockedError(RuntimeError):
    """Another process holds the work dir's lock (the message names it and the lock file)."""


def pid_alive(pid: int) -> Optional[bool]:
    """Whether process ``pid`` runs on this host.

    Args:
        pid (int): a process id.

    Returns:
        bool | None: True or False; None where it cannot be told (Windows without ``psutil``).
    """
    if os.name == 'nt':  # pragma: no cover - os.kill(pid, 0) would terminate the process there
        try:
            import psutil
        except ImportError:
            return None
        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:  # pragma: no cover
        return None
    return True


def describe_holder(record: Optional[dict]) -> str:
    """One line naming the process of a lock record, e.g.
    ``pid 1234 on host gpu1 (started 2024-05-01 10:00:00, command: tools/train.py cfg.py)``.

    Args:
        record (dict, optional): the lock file's JSON record; None or a record without ``pid``
            for an unreadable file.
    """
    if not record or 'pid' not in record:
        return 'an unknown process (the lock file holds no readable record)'
    text = f"pid {record['pid']} on host {record.get('host', '?')}"
    if record.get('pid') == os.getpid() and record.get('host') == socket.gethostname():
        text += ' (this process)'
    extra = []
    if record.get('started'):
        extra.append(f"started {record['started']}")
    if record.get('argv'):
        extra.append('command: ' + ' '.join(str(a) for a in record['argv']))
    return text + (f" ({', '.join(extra)})" if extra else '')


def _read_record(path: str) -> Optional[dict]:
    try:
        with open(path, 'r', encoding='utf-8') as f:
            record = json.loads(f.read() or 'null')
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class WorkDirLock:
    """Exclusive lock on ``work_dir`` for the length of a training run.

    Use ``with WorkDirLock(work_dir): ...`` or :meth:`acquire` / :meth:`release`.

    Args:
        work_dir (str | PathLike): the folder to lock; created if missing.
        name (str): the lock file's name in it. Defaults to :data:`LOCK_NAME`.

    Attributes:
        path (str): the lock file.
        stale (dict | None): after :meth:`acquire`, the record of a dead process whose lock file
            was taken over (its ``alive`` key: False, or None when it cannot be told), else None.
    """

    def __init__(self, work_dir, name: str = LOCK_NAME):
        self.work_dir = os.fspath(work_dir)
        self.path = osp.join(self.work_dir, name)
        self.stale: Optional[dict] = None
        self._fd: Optional[int] = None
        self._held = False

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._held

    def _record(self) -> bytes:
        return json.dumps(
            dict(
                pid=os.getpid(),
                host=socket.gethostname(),
                started=time.strftime('%Y-%m-%d %H:%M:%S'),
                argv=list(sys.argv)),
            indent=1).encode('utf-8')

    def _refuse(self, record: Optional[dict], other_host: bool = False) -> WorkDirLockedError:
        text = (f'work dir {self.work_dir} is in use by another training run: '
                f'{describe_holder(record)}; lock file {self.path}. Wait for that run to end (or '
                'stop it), or train in another work dir (--work-dir).')
        if other_host:
            text += (' Its host cannot be checked from here: if that run is gone, delete the '
                     'lock file.')
        return WorkDirLockedError(text)

    def acquire(self) -> 'WorkDirLock':
        """Take the lock, or raise.

        Returns:
            WorkDirLock: self (:attr:`stale` tells whether a dead process's lock was taken over).

        Raises:
            WorkDirLockedError: another live process holds the lock (names it and the lock file).
            OSError: the work dir or the lock file cannot be created or written (names the file).
        """
        if self._held:
            return self
        try:
            os.makedirs(self.work_dir, exist_ok=True)
        except OSError as e:
            raise OSError(f'cannot create the work dir {self.work_dir}: {e}') from e
        if fcntl is not None:
            for _ in range(20):  # retried only when the file was replaced under us
                result = self._try_flock()
                if result is not None:
                    return self if result else self._acquire_by_record()
        return self._acquire_by_record()

    def _try_flock(self) -> Optional[bool]:
        """True: locked; False: flock unsupported here; None: the file changed, retry."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OSError(f'cannot create the lock file {self.path}: {e}') from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise self._refuse(_read_record(self.path)) from None
            if e.errno in _NO_LOCK_ERRNOS:
                return False
            raise OSError(f'cannot lock {self.path}: {e}') from e
        try:  # the file we locked must still be the one at self.path (a holder unlinks it)
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return None
        previous = _read_record(self.path)
        if previous is not None:  # its holder ended without releasing: killed or crashed
            previous['alive'] = (
                pid_alive(int(previous['pid'])) if previous.get('host') == socket.gethostname()
                and isinstance(previous.get('pid'), int) else None)
            self.stale = previous
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, self._record())
            os.fsync(fd)
        except OSError as e:
            os.close(fd)
            raise OSError(f'cannot write the lock file {self.path}: {e}') from e
        self._fd, self._held = fd, True
        return True

    def _acquire_by_record(self) -> 'WorkDirLock':
        """The lock without flock: create the file exclusively; a dead local holder is stale."""
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                record = _read_record(self.path)
                if record is None and time.time() - _mtime(self.path) < 10:
                    time.sleep(0.2)  # being written right now
                    continue
                local = record is not None and record.get('host') == socket.gethostname()
                alive = pid_alive(int(
                    record['pid'])) if local and isinstance(record.get('pid'), int) else None
                if record is not None and (not local or alive is not False):
                    raise self._refuse(record, other_host=not local) from None
                self.stale = dict(record or {}, alive=False)
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            except OSError as e:
                raise OSError(f'cannot create the lock file {self.path}: {e}') from e
            try:
                os.write(fd, self._record())
            finally:
                os.close(fd)
            self._held = True
            return self
        raise self._refuse(_read_record(self.path))

    def release(self) -> None:
        """Remove the lock file and drop the lock; a no-op when not held. Never raises."""
        if not self._held:
            return
        self._held = False
        try:
            record = _read_record(self.path)
            if record is not None and record.get('pid') == os.getpid():
                os.remove(self.path)  # before unlocking: a waiting run then makes a new file
        except OSError:
            pass
        if self._fd is not None:
            try:
                os.close(self._fd)  # drops the flock
            except OSError:  # pragma: no cover
                pass
            self._fd = None

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):  # an abandoned lock object (e.g. a runner dropped after an error)
        try:
            self.release()
        except Exception:  # noqa: BLE001 - e.g. at interpreter shutdown
            pass


def _mtime(path: str) -> float:
    try:
        return osp.getmtime(path)
    except OSError:
        return 0.0
