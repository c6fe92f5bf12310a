"""Where a run may write: never into the data it reads, never over files it did not write.

``tools/test.py`` writes predictions (``--out``), painted pictures (``--show-dir``) and curves
(``--curve-dir``). Before anything is built, :func:`check_test_outputs` refuses

* an output folder that is, is inside, or holds a dataset folder of the config (every
  ``data_prefix`` folder, images, masks and extra maps, of every dataset of the test, val and
  train dataloaders, members of ``MultiSetDataset`` / ``ConcatDataset`` and wrapped datasets of
  ``RepeatDataset`` included): ``--out <set>/masks`` would replace the ground truth by
  predictions;
* an output folder that already holds files of the kind the run writes there (PNG files under
  ``--out``, ``curves.json`` / ``curves.png`` under ``--curve-dir``, anything under
  ``<show-dir>/vis_data``), unless ``--overwrite`` is given. Before the run nothing was written
  by it, so every such file would be one it did not write.

:func:`claim_output` (defined in :mod:`dbdseg.utils.fileio`, which metrics can import without
importing :mod:`dbdseg.apis`) is the same rule for a writer that knows the exact file it is about
to write. :func:`exit_on_signals` turns SIGTERM / SIGHUP into ``SystemExit`` so that the
clean-up of a run (``finally`` blocks, temporary files) also runs when it is stopped.

Errors are ``ValueError`` subclasses with a message for the command line.
"""
import contextlib
import os
import os.path as osp
import signal
import sys
import threading
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from dbdseg.utils.fileio import OutputExistsError, claim_output

__all__ = [
    'DatasetFolderError', 'OutputExistsError', 'check_output_folder', 'check_test_outputs',
    'claim_output', 'dataset_folders', 'exit_on_signals', 'existing_outputs', 'guard_test_outputs',
    'set_metric_overwrite'
]

#: The dataloaders whose datasets :func:`dataset_folders` protects.
DATALOADER_KEYS = ('test_dataloader', 'val_dataloader', 'train_dataloader')

#: What each kind of output folder holds (relative path -> True when the run may write it).
OUTPUT_KINDS = {
    'predictions': lambda rel: rel.lower().endswith('.png'),
    'curves': lambda rel: osp.basename(rel) in ('curves.json', 'curves.png'),
    'pictures': lambda rel: rel.split(os.sep)[0] == 'vis_data',
}


class DatasetFolderError(ValueError):
    """An output folder is, is inside, or holds a dataset folder of the run; or is a file."""


def _default_data_prefix(ds: dict, scope: str) -> dict:
    """``data_prefix`` default of a dataset config's class (mmseg's when it cannot be found)."""
    import inspect

    from mmengine.registry import DefaultScope
    cls = ds.get('type')
    if not inspect.isclass(cls):
        from mmseg.registry import DATASETS
        try:
            with DefaultScope.overwrite_default_scope(scope):
                cls = DATASETS.get(cls)
        except Exception:  # noqa: BLE001 - an unknown type: mmseg's default below
            cls = None
    for klass in (inspect.getmro(cls) if inspect.isclass(cls) else ()):
        param = inspect.signature(klass.__init__).parameters.get('data_prefix')
        if param is not None and isinstance(param.default, dict):
            return dict(param.default)
    return dict(img_path='', seg_map_path='')


def dataset_folders(cfg, loaders: Sequence[str] = DATALOADER_KEYS) -> List[Tuple[str, str]]:
    """Every folder the datasets of a config read: ``data_root`` joined with each
    ``data_prefix`` value, as mmengine's ``BaseDataset`` joins them.

    Dataset wrappers are followed: ``datasets=[...]`` (``MultiSetDataset``, ``ConcatDataset``)
    and ``dataset=...`` (``RepeatDataset``, ``ClassBalancedDataset``). A dataset config without
    ``data_prefix`` gets its class's default. Prefix values that are None (not given) or URLs
    are left out.

    Args:
        cfg (Config | dict): the config (``default_scope`` names the registry scope of the
            dataset types; defaults to ``'mmseg'``).
        loaders (Sequence[str]): the dataloader keys to look at. Defaults to
            :data:`DATALOADER_KEYS` (test, val and train).

    Returns:
        list[tuple[str, str]]: ``(folder, where)`` pairs, first seen first, each folder once;
        ``where`` says which config entry reads it, e.g.
        ``'test_dataloader.dataset.datasets[0] seg_map_path'``. A folder is relative to the
        current directory when the config's is (``''`` becomes ``'.'``).
    """
    scope = cfg.get('default_scope', None) or 'mmseg'
    found = {}

    def visit(ds, where):
        if not isinstance(ds, dict):
            return
        if isinstance(ds.get('datasets'), (list, tuple)):
            for i, member in enumerate(ds['datasets']):
                visit(member, f'{where}.datasets[{i}]')
            return
        if isinstance(ds.get('dataset'), dict):
            visit(ds['dataset'], f'{where}.dataset')
            return
        prefix = ds.get('data_prefix', None)
        prefix = _default_data_prefix(ds, scope) if prefix is None else prefix
        root = ds.get('data_root', None) or ''
        for key, value in dict(prefix).items():
            if value is None or not isinstance(value, str) or '://' in value + root:
                continue
            folder = value if osp.isabs(value) or not root else osp.join(root, value)
            folder = osp.normpath(folder) if folder else '.'
            found.setdefault(folder, f'{where} {key}')

    for key in loaders:
        loader = cfg.get(key, None)
        if isinstance(loader, dict):
            visit(loader.get('dataset', None), f'{key}.dataset')
    return list(found.items())


def _within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_folder(flag: str, path: str, folders: Sequence[Tuple[str, str]]) -> None:
    """Refuse an output folder that is, is inside, or holds one of ``folders``.

    Paths are compared after resolving symbolic links (``os.path.realpath``), so a link to a
    mask folder is that mask folder.

    Args:
        flag (str): the option that names ``path`` (``'--out'``), for the message.
        path (str): the output folder (need not exist).
        folders (Sequence[tuple[str, str]]): ``(folder, where)`` pairs of
            :func:`dataset_folders`.

    Raises:
        DatasetFolderError: ``path`` overlaps a dataset folder (the message names both and
            the config entry), or ``path`` is an existing file.
    """
    if osp.exists(path) and not osp.isdir(path):
        raise DatasetFolderError(f'{flag} {path} is not a folder')
    real = osp.realpath(path)
    for folder, where in folders:
        data = osp.realpath(folder)
        relation = ('is' if real == data else
                    'is inside' if _within(real, data) else 'holds' if _within(data, real) else '')
        if relation:
            raise DatasetFolderError(
                f'{flag} {path} {relation} the dataset folder {folder} ({where}); the run would '
                'write among the data it reads: choose a folder outside every dataset folder')


def existing_outputs(folder: str, kind: str) -> List[str]:
    """The files under ``folder`` that a run writing outputs of ``kind`` there may replace.

    Args:
        folder (str): the output folder (a missing folder holds none).
        kind (str): ``'predictions'`` (any ``*.png`` at any depth), ``'curves'``
            (``curves.json`` / ``curves.png`` at any depth) or ``'pictures'`` (anything under
            ``vis_data/``, mmengine's ``LocalVisBackend`` folder). Hidden files (temporary
            files) are not outputs.

    Returns:
        list[str]: the paths, sorted.

    Raises:
        KeyError: an unknown ``kind``.
    """
    match: Callable[[str], bool] = OUTPUT_KINDS[kind]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            path = osp.join(root, name)
            if not name.startswith('.') and match(osp.relpath(path, folder)):
                found.append(path)
    return sorted(found)


def check_test_outputs(cfg,
                       out: Optional[str] = None,
                       show_dir: Optional[str] = None,
                       curve_dir: Optional[str] = None,
                       overwrite: bool = False) -> None:
    """The checks of ``tools/test.py --out / --show-dir / --curve-dir``, before the run.

    Each given folder must not be, be inside, or hold a dataset folder of the config
    (:func:`dataset_folders`, :func:`check_output_folder`; ``overwrite`` does not lift this),
    and must not hold files of the kind the run writes there (:func:`existing_outputs`:
    ``'predictions'``, ``'pictures'``, ``'curves'``) unless ``overwrite``.

    Args:
        cfg (Config): the test config (after ``--cfg-options``).
        out (str, optional): ``--out``. Defaults to None.
        show_dir (str, optional): ``--show-dir``. Defaults to None.
        curve_dir (str, optional): ``--curve-dir``. Defaults to None.
        overwrite (bool): ``--overwrite``. Defaults to False.

    Raises:
        DatasetFolderError: a folder overlaps a dataset folder, or is a file.
        OutputExistsError: a folder holds outputs of an earlier run and ``overwrite`` is False
            (the message names the first files and how many there are).
    """
    given = [('--out', out, 'predictions'), ('--show-dir', show_dir, 'pictures'),
             ('--curve-dir', curve_dir, 'curves')]
    given = [(flag, path, kind) for flag, path, kind in given if path]
    if not given:
        return
    folders = dataset_folders(cfg)
    for flag, path, _ in given:
        check_output_folder(flag, path, folders)
    if overwrite:
        return
    for flag, path, kind in given:
        found = existing_outputs(path, kind)
        if found:
            more = f' and {len(found) - 3} more' if len(found) > 3 else ''
            raise OutputExistsError(
                f'{flag} {path} already holds {len(found)} {kind} file(s) this run could '
                f'replace: {", ".join(found[:3])}{more}; pass --overwrite to replace them, or '
                'choose another folder')


def set_metric_overwrite(cfg, overwrite: bool) -> int:
    """Pass ``overwrite=True`` to every test metric whose class takes an ``overwrite`` argument
    (a metric that writes files and follows :func:`claim_output`), in place.

    Args:
        cfg (Config): the test config (``test_evaluator``).
        overwrite (bool): ``--overwrite``; False changes nothing.

    Returns:
        int: the number of metric configs set.

    Raises:
        ValueError: the config has no ``test_evaluator`` (only when ``overwrite``).
    """
    if not overwrite:
        return 0
    from dbdseg.apis.test_setup import evaluator_metric_cfgs, metric_init_params
    scope = cfg.get('default_scope', None) or 'mmseg'
    count = 0
    for metric in evaluator_metric_cfgs(cfg):
        if 'overwrite' in metric_init_params(metric, scope):
            metric['overwrite'] = True
            count += 1
    return count


@contextlib.contextmanager
def exit_on_signals(signals: Sequence[str] = ('SIGTERM', 'SIGHUP'),
                    prog: Optional[str] = None) -> Iterator[None]:
    """Within the block, the given signals raise ``SystemExit(128 + signal number)``.

    Python's default action for SIGTERM and SIGHUP ends the process at once: no ``finally``
    block, no ``except BaseException`` clean-up runs, so temporary files stay. As an exception,
    the clean-up runs and the exit status is the shell's usual 128 + N (143 for SIGTERM). SIGINT
    already raises ``KeyboardInterrupt``. Outside the main thread (where Python cannot set
    handlers) this does nothing. The previous handlers are put back at the end.

    Args:
        signals (Sequence[str]): signal names; those the platform lacks are ignored. Defaults
            to SIGTERM and SIGHUP.
        prog (str, optional): printed as ``<prog>: stopped by <signal>`` on stderr. Defaults to
            None: nothing printed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if prog:
            print(f'{prog}: stopped by {signal.Signals(signum).name}', file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    previous = {}
    for name in signals:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def guard_test_outputs(cfg,
                       out: Optional[str] = None,
                       show_dir: Optional[str] = None,
                       curve_dir: Optional[str] = None,
                       overwrite: bool = False) -> None:
    """:func:`check_test_outputs`, then :func:`set_metric_overwrite`: what ``tools/test.py``
    calls before building the runner.

    Raises:
        DatasetFolderError, OutputExistsError: see :func:`check_test_outputs`.
    """
    check_test_outputs(cfg, out=out, show_dir=show_dir, curve_dir=curve_dir, overwrite=overwrite)
    set_metric_overwrite(cfg, overwrite)
