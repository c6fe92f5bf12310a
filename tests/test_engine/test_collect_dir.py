"""dbdseg.engine.collect_dir: the folders of mmengine's cpu gathering of distributed results go
under the work dir, one per metric, and are removed at the end (the 2-process run is in
tests/test_distributed/test_ddp.py)."""
import os
import os.path as osp
from types import SimpleNamespace

from dbdseg.engine import collect_dir as cd


class _Metric:

    def __init__(self, collect_device='cpu', collect_dir=None):
        self.collect_device, self.collect_dir = collect_device, collect_dir


def _runner(tmp_path, val_metrics, test_metrics):
    return SimpleNamespace(
        work_dir=str(tmp_path / 'work'),
        timestamp='20240101_000000',
        _val_loop=SimpleNamespace(evaluator=SimpleNamespace(metrics=val_metrics)),
        _test_loop=dict(type='TestLoop'),  # not built: left alone
        _train_loop=None)


def test_one_process_changes_nothing(tmp_path):
    metric = _Metric()
    assert cd.use_work_dir_collect_dirs(_runner(tmp_path, [metric], [])) == []
    assert metric.collect_dir is None


def test_metrics_gather_under_the_work_dir_and_folders_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(cd, 'get_world_size', lambda: 2)
    monkeypatch.setattr(cd, 'broadcast_object_list', lambda objs, src=0: None)
    own, gpu, cpu2 = _Metric(), _Metric('gpu'), _Metric()
    fixed = _Metric(collect_dir=str(tmp_path / 'mine'))
    changed = cd.use_work_dir_collect_dirs(_runner(tmp_path, [own, gpu, fixed, cpu2], []))
    root = osp.join(str(tmp_path / 'work'), '.dist_test', f'20240101_000000_{os.getpid()}')
    assert own.collect_dir == osp.join(root, 'val_0')
    assert cpu2.collect_dir == osp.join(root, 'val_3')  # one folder per metric
    assert gpu.collect_dir is None and fixed.collect_dir == str(tmp_path / 'mine')
    assert [m for m, _ in changed] == [own, cpu2]

    os.makedirs(own.collect_dir)  # what mmengine leaves: empty folders (it removes the leaf)
    os.makedirs(osp.join(str(tmp_path / 'work'), '.dist_test', 'other_run', 'val_0'))
    cd.remove_collect_dirs(changed)
    assert own.collect_dir is None and cpu2.collect_dir is None
    assert not osp.exists(root)
    # another run's folder (gathering right now) is kept, and so is .dist_test holding it
    assert os.listdir(osp.join(str(tmp_path / 'work'), '.dist_test')) == ['other_run']


def test_hook_sets_and_removes_collect_dirs(tmp_path, monkeypatch):
    from dbdseg.engine.hooks import atomic_checkpoint_hook as mod
    calls = []
    monkeypatch.setattr(mod, 'use_work_dir_collect_dirs', lambda r: calls.append('set') or ['x'])
    monkeypatch.setattr(mod, 'remove_collect_dirs', lambda c: calls.append(('remove', c)))
    hook = mod.AtomicCheckpointHook(interval=1)
    runner = _runner(tmp_path, [], [])
    hook.before_run(runner)
    hook.after_run(runner)
    assert calls == ['set', ('remove', ['x'])]
