"""Config preparation of a test run: the steps ``tools/test.py`` applies before building the runner.

These functions edit an mmengine :class:`~mmengine.config.Config` in place for testing: where the
metrics write predictions and curves (``--out``, ``--curve-dir``), the test-time-augmentation
pipeline of every test dataset (``--tta``), mmseg's visualisation hook (``--show``,
``--show-dir``), a work dir that does not overwrite the tested config, and a config without its
training and validation parts (a test run never needs their data). They hold no
registered component (what ``dbdseg/engine/`` holds in mmseg's layout) and are called by an entry
point, hence :mod:`dbdseg.apis`. mmseg 1.2.2's ``tools/test.py`` (Apache-2.0) keeps
``trigger_visualization_hook`` inline; dbdseg's versions also accept several metrics and dataset
wrappers (``MultiSetDataset``).

Errors are :class:`ValueError` with a message for the command line (``tools/test.py`` prints it
as ``tools/test.py: error: <message>``).
"""
import copy
import inspect
import os.path as osp
from typing import List, Optional, Set

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = [
    'TRAINING_KEYS', 'configure_evaluator', 'drop_training_parts', 'evaluator_metric_cfgs',
    'metric_init_params', 'protect_config_file', 'set_test_pipeline', 'trigger_visualization_hook'
]

#: config entries a test run does not use: mmengine's ``Runner`` builds the training loop (and its
#: dataloader) on first access of ``runner.iter`` / ``runner.epoch``, which mmseg's
#: ``SegVisualizationHook`` reads for every painted image; validation is not run by ``test()``.
TRAINING_KEYS = ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                 'val_dataloader', 'val_cfg', 'val_evaluator', 'auto_scale_lr')


def evaluator_metric_cfgs(cfg: Config) -> List[dict]:
    """The metric config dicts of ``cfg.test_evaluator`` (references, editable in place).

    Args:
        cfg (Config): a config with ``test_evaluator``: a metric dict, a list of metric dicts,
            or ``dict(type='Evaluator', metrics=...)``. A metric dict with a ``metrics`` key but
            another ``type`` (``dict(type='MyMetric', metrics=['MAE'])``) is one metric.

    Returns:
        list[dict]: the metric dicts (non-dict entries of a list are left out).

    Raises:
        ValueError: the config has no ``test_evaluator``, or it is of another kind.
    """
    from mmengine.evaluator import Evaluator
    ev = cfg.get('test_evaluator', None)
    if ev is None:
        raise ValueError('the config has no test_evaluator')
    if isinstance(ev, dict) and 'metrics' in ev and ev.get('type',
                                                           'Evaluator') in ('Evaluator', Evaluator):
        ev = ev['metrics']
    if isinstance(ev, dict):
        return [ev]
    if isinstance(ev, (list, tuple)):
        return [m for m in ev if isinstance(m, dict)]
    raise ValueError(f'unsupported test_evaluator: {ev!r}')


def metric_init_params(metric_cfg: dict, scope: str = 'mmseg') -> Set[str]:
    """Names of the explicit ``__init__`` parameters of a metric config's class.

    Args:
        metric_cfg (dict): a metric config; ``type`` is a registered name (looked up in mmseg's
            ``METRICS`` under ``scope``) or a class.
        scope (str): registry scope of a name. Defaults to ``'mmseg'``.

    Returns:
        set[str]: the parameter names (``*args`` / ``**kwargs`` left out); empty when the class
        is unknown.
    """
    from mmengine.registry import DefaultScope
    from mmseg.registry import METRICS
    mtype = metric_cfg.get('type')
    if inspect.isclass(mtype):
        cls = mtype
    else:
        with DefaultScope.overwrite_default_scope(scope):
            cls = METRICS.get(mtype)
    if cls is None:
        return set()
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _metric_subdir(metric: dict, index: int) -> str:
    """Sub-folder name for one of several metrics: its ``prefix``, else ``<type>_<index>``."""
    if metric.get('prefix'):
        return str(metric['prefix']).replace('/', '_')
    mtype = metric.get('type')
    name = mtype if isinstance(mtype, str) else getattr(mtype, '__name__', 'metric')
    return f'{name.split(".")[-1]}_{index}'


def protect_config_file(work_dir: str, config: str) -> str:
    """The work dir a test run may use without overwriting ``config`` itself.

    The runner dumps the (test-modified) config to ``<work_dir>/<config file name>``. For a config
    that lives in its own work dir (``work_dirs/demo/config.py``, whose ``work_dir`` is
    ``work_dirs/demo``) that would replace the training config with the test one, so the test run
    moves to ``<work_dir>/test`` instead (and says so in the log).

    Args:
        work_dir (str): the work dir the run would use.
        config (str): path of the tested config file.

    Returns:
        str: ``work_dir``, or ``<work_dir>/test`` when the dump would overwrite ``config``.
    """
    dump = osp.join(work_dir, osp.basename(config))
    if osp.abspath(dump) == osp.abspath(config):
        new = osp.join(work_dir, 'test')
        print_log(
            f'{config} lives in its work dir: this test run uses {new} so the config is not '
            'overwritten',
            logger='current')
        return new
    return work_dir


def configure_evaluator(cfg: Config,
                        out_dir: Optional[str] = None,
                        curve_dir: Optional[str] = None,
                        work_dir_from_cli: bool = False,
                        per_image_csv: Optional[str] = None) -> None:
    """Set ``output_dir``, ``curve_dir`` and ``per_image_csv`` on the test metrics that take them
    (in place).

    ``output_dir`` (and ``keep_results=True`` where the metric takes it) is ``out_dir`` when
    given. ``curve_dir``: ``curve_dir`` when given, else ``cfg.work_dir`` when the work dir came
    from the command line (``work_dir_from_cli``), else the metric config's own value, else
    ``cfg.work_dir``. (A config dumped by an earlier test run carries that run's ``curve_dir``;
    an explicit ``--work-dir`` must not write into the earlier run's folder.) When several
    metrics take ``output_dir`` (or ``curve_dir``), each gets a sub-folder named by its
    ``prefix`` (else ``<type>_<index>``) so that their files do not overwrite each other.

    Args:
        cfg (Config): the test config (``test_evaluator``, ``work_dir``; ``default_scope``
            names the registry scope of the metric types, defaults to ``'mmseg'``).
        out_dir (str, optional): where predictions are saved (``--out``). Defaults to None.
        curve_dir (str, optional): where curves are written (``--curve-dir``). Defaults to None.
        work_dir_from_cli (bool): ``cfg.work_dir`` was given on the command line. Defaults to
            False.
        per_image_csv (str, optional): the per-image metrics CSV (``--per-image-csv``), set on
            the first metric that takes ``per_image_csv`` (``SODMetric``). Defaults to None.

    Raises:
        ValueError: no ``test_evaluator`` (see :func:`evaluator_metric_cfgs`), or ``out_dir``
            (``per_image_csv``) is given but no test metric takes ``output_dir``
            (``per_image_csv``).
    """
    scope = cfg.get('default_scope', 'mmseg')
    metrics = evaluator_metric_cfgs(cfg)
    params = [metric_init_params(m, scope) for m in metrics]
    n_out = sum('output_dir' in p for p in params)
    n_curve = sum('curve_dir' in p for p in params)
    for i, (metric, names) in enumerate(zip(metrics, params)):
        if out_dir is not None and 'output_dir' in names:
            metric['output_dir'] = (
                out_dir if n_out == 1 else osp.join(out_dir, _metric_subdir(metric, i)))
            if 'keep_results' in names:
                metric['keep_results'] = True
        if 'curve_dir' in names:
            if curve_dir is not None:
                base = curve_dir
            elif work_dir_from_cli:
                base = cfg.work_dir
            elif metric.get('curve_dir', None) is not None:
                continue
            else:
                base = cfg.work_dir
            metric['curve_dir'] = base if n_curve == 1 else osp.join(base, _metric_subdir(
                metric, i))
    if per_image_csv is not None:
        takers = [m for m, names in zip(metrics, params) if 'per_image_csv' in names]
        if not takers:
            raise ValueError('--per-image-csv needs a test metric that writes per-image rows '
                             '(a per_image_csv argument, e.g. SODMetric); the config\'s '
                             'test_evaluator has none')
        takers[0]['per_image_csv'] = per_image_csv
    if out_dir is not None and n_out == 0:
        raise ValueError('--out needs a test metric that saves predictions (an output_dir '
                         'argument, e.g. SODMetric); the config\'s test_evaluator has none')


def set_test_pipeline(dataset_cfg: dict, pipeline: list) -> int:
    """Put ``pipeline`` into a test dataset config and every dataset it wraps (in place).

    Dataset wrappers (``MultiSetDataset``, mmengine's ``ConcatDataset`` with ``datasets=[...]``,
    ``RepeatDataset`` / ``ClassBalancedDataset`` with ``dataset=...``) carry no pipeline of their
    own: their member datasets get it, each a deep copy.

    Args:
        dataset_cfg (dict): ``test_dataloader.dataset``.
        pipeline (list): the pipeline, e.g. the config's ``tta_pipeline``.

    Returns:
        int: the number of datasets whose pipeline was set (>= 1).

    Raises:
        ValueError: no dataset config was found.
    """

    def visit(ds) -> int:
        if not isinstance(ds, dict):
            return 0
        if isinstance(ds.get('datasets'), (list, tuple)):
            return sum(visit(d) for d in ds['datasets'])
        if isinstance(ds.get('dataset'), dict):
            return visit(ds['dataset'])
        ds['pipeline'] = copy.deepcopy(pipeline)
        return 1

    n = visit(dataset_cfg)
    if n == 0:
        raise ValueError(f'cannot set the TTA pipeline: test_dataloader.dataset is not a dataset '
                         f'config ({dataset_cfg!r})')
    return n


def trigger_visualization_hook(cfg: Config,
                               show: bool = False,
                               show_dir: Optional[str] = None,
                               wait_time: float = 2) -> Config:
    """Turn on mmseg's ``SegVisualizationHook`` for every test image (in place).

    The hook is added to ``default_hooks`` when missing and set to ``draw=True``, ``interval=1``
    (the hook's default paints every 50th image). The visualizer is dbdseg's
    ``BinarySegLocalVisualizer`` (image | ground truth | probability heat map | prediction; added
    when missing, and in place of mmseg's ``SegLocalVisualizer``, to which it falls back for
    multi-class predictions).

    Args:
        cfg (Config): the test config.
        show (bool): show each picture in a window (``--show``). Defaults to False.
        show_dir (str, optional): the visualizer's ``save_dir`` (``--show-dir``; images land in
            ``<show_dir>/vis_data/vis_image/``). Defaults to None: the visualizer's own.
        wait_time (float): seconds each shown picture stays, with ``show``. Defaults to 2.

    Returns:
        Config: ``cfg``.
    """
    if cfg.get('default_hooks', None) is None:
        cfg.default_hooks = dict()
    if cfg.default_hooks.get('visualization', None) is None:
        cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    hook = cfg.default_hooks.visualization
    hook['draw'] = True
    hook['interval'] = 1  # paint every test image (the hook's default is every 50th)
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if cfg.get('visualizer', None) is None:
        cfg.visualizer = dict(
            type='BinarySegLocalVisualizer',
            vis_backends=[dict(type='LocalVisBackend')],
            name='visualizer')
    elif cfg.visualizer.get('type') in ('SegLocalVisualizer', 'mmseg.SegLocalVisualizer'):
        # mmseg's visualizer paints a 1-channel probability map as a class map; dbdseg's draws
        # image | ground truth | heat map | prediction and hands multi-class maps to mmseg's
        print_log(
            '--show/--show-dir: using BinarySegLocalVisualizer (probability heat maps) in '
            'place of the config\'s SegLocalVisualizer',
            logger='current')
        cfg.visualizer.type = 'BinarySegLocalVisualizer'
    if show_dir:
        cfg.visualizer.save_dir = show_dir
    return cfg


def drop_training_parts(cfg: Config) -> List[str]:
    """Remove the training and validation parts of a config for a test run (in place).

    mmengine's ``Runner`` builds ``train_loop`` lazily, but reading ``runner.iter`` (mmseg 1.2.2's
    ``SegVisualizationHook`` does, for the ``step`` of every painted image) builds it, and with it
    the training dataloader: ``--show-dir`` then needs the training data folder. A test run uses
    none of :data:`TRAINING_KEYS`, so each present one is set to None (mmengine's "not given"),
    and ``runner.iter`` is 0. Call it after the output-folder checks, which look at every
    dataset folder of the config (:func:`dbdseg.apis.output_guard.check_test_outputs`).

    Args:
        cfg (Config): the test config.

    Returns:
        list[str]: the keys that were set to None (those present with a value), in
        :data:`TRAINING_KEYS` order.
    """
    dropped = []
    for key in TRAINING_KEYS:
        if cfg.get(key, None) is not None:
            cfg[key] = None
            dropped.append(key)
    return dropped
