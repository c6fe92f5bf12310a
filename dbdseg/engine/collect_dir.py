"""Distributed evaluation gathers its results under the work dir, not in the current folder.

mmengine 0.10.7 gathers the results of the ranks of a distributed validation or test through files
when a metric has ``collect_device='cpu'`` (every metric's default): ``BaseMetric.evaluate`` calls
``collect_results(..., tmpdir=metric.collect_dir)``, and with ``collect_dir=None`` (also the
default) ``collect_results_cpu`` makes a folder ``.dist_test/`` in the *current directory*, a
temporary folder inside it, and removes only the temporary folder. Every distributed test or
validation thus left an empty ``.dist_test/`` wherever ``tools/dist_test.sh`` was started.

:func:`use_work_dir_collect_dirs` gives each such metric of the runner's built validation and test
loops its own folder ``<work_dir>/.dist_test/<run>/<loop>_<index>`` (``<run>``: the runner's
timestamp and rank 0's pid, the same on every rank; one folder per metric, so two metrics or two
runs never share one), which mmengine creates and removes at each evaluation;
:func:`remove_collect_dirs` removes what is left when the run ends (empty folders only, so the
folders of another run that is gathering at that moment are kept). A single process gathers
nothing, and nothing changes there. ``AtomicCheckpointHook`` (which dbdseg's configs name) calls
both.
"""
import os
import os.path as osp
from typing import List, Tuple

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process

__all__ = ['COLLECT_ROOT', 'remove_collect_dirs', 'use_work_dir_collect_dirs']

#: The folder in the work dir that holds the gathering folders (mmengine's name, kept).
COLLECT_ROOT = '.dist_test'


def use_work_dir_collect_dirs(runner) -> List[Tuple[object, str]]:
    """Point the cpu-gathering metrics without a ``collect_dir`` at folders in the work dir.

    Call it on every rank at the same point (it broadcasts rank 0's pid), after the loops are
    built (``before_run``).

    Args:
        runner (mmengine.runner.Runner): the runner; only its built ``ValLoop`` / ``TestLoop``
            (those with an ``evaluator``) are looked at.

    Returns:
        list[tuple[BaseMetric, str]]: the metrics changed and their folders (empty in a single
        process); pass it to :func:`remove_collect_dirs`.
    """
    if get_world_size() <= 1:
        return []
    token = [f'{runner.timestamp}_{os.getpid()}']
    broadcast_object_list(token, src=0)
    root = osp.join(runner.work_dir, COLLECT_ROOT, token[0])
    changed = []
    for loop_name in ('val', 'test'):
        evaluator = getattr(getattr(runner, f'_{loop_name}_loop', None), 'evaluator', None)
        for i, metric in enumerate(getattr(evaluator, 'metrics', None) or []):
            if getattr(metric, 'collect_device', None) == 'cpu' and getattr(
                    metric, 'collect_dir', '') is None:
                metric.collect_dir = osp.join(root, f'{loop_name}_{i}')
                changed.append((metric, metric.collect_dir))
    return changed


def remove_collect_dirs(changed: List[Tuple[object, str]]) -> None:
    """Give the metrics back ``collect_dir=None`` and remove their folders (rank 0, empty folders
    only, then ``<run>`` and ``.dist_test`` if empty). Never raises.

    Args:
        changed (list): what :func:`use_work_dir_collect_dirs` returned.
    """
    folders = []
    for metric, folder in changed:
        if getattr(metric, 'collect_dir', None) == folder:
            metric.collect_dir = None
        folders.append(folder)
    if not is_main_process():
        return
    parents = set()
    for folder in folders:
        parents.add(osp.dirname(folder))
        _rmdir(folder)
    for parent in parents:
        _rmdir(parent)
        _rmdir(osp.dirname(parent))


def _rmdir(folder: str) -> None:
    try:
        os.rmdir(folder)  # only when empty
    except OSError:
        pass
