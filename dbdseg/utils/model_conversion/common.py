"""What every checkpoint converter shares: reading the source file, unwrapping its state dict,
checking the converted keys against a target model, the common command-line flags and writing
the result atomically.

The per-model key mappings live next to this module (:mod:`.minet`, :mod:`.u2net`,
:mod:`.depth_distillation`, :mod:`.a2s`, :mod:`.mocov2`); the command-line converters in
``tools/model_converters/`` parse arguments and call them.
"""
import argparse
import io
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from dbdseg.utils.fileio import atomic_write_bytes

__all__ = [
    'unwrap_state_dict', 'load_state_dict_file', 'load_checkpoint_file', 'check_target_shapes',
    'target_shapes_from_config', 'format_keys', 'raise_problems', 'add_allow_unmapped',
    'add_config_args', 'add_trust_source', 'save_checkpoint', 'add_allow_partial', 'paper_config',
    'resolve_config', 'missing_reference_keys', 'target_gaps', 'settle_gaps', 'source_gaps',
    'check_and_settle'
]


# ------------------------------------------------------------------------------ reading
def unwrap_state_dict(
    checkpoint,
    wrappers: Sequence[str] = ('state_dict', 'model'),
    prefixes: Sequence[str] = ('module.', )
) -> Dict[str, torch.Tensor]:
    """Unwrap a loaded checkpoint down to its state dict.

    Args:
        checkpoint (dict): what ``torch.load`` returned.
        wrappers (Sequence[str]): keys whose dict value replaces the checkpoint, tried in order
            (``{'state_dict': {...}}``, ``{'model': {...}}``). Defaults to
            ``('state_dict', 'model')``.
        prefixes (Sequence[str]): key prefixes removed, in order, when *every* key has them
            (DataParallel's ``module.``). Defaults to ``('module.',)``.

    Returns:
        dict[str, Tensor]: the state dict (the same tensor objects).

    Raises:
        ValueError: ``checkpoint`` is not a dict.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for wrapper in wrappers:
        if isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    for prefix in prefixes:
        if checkpoint and all(k.startswith(prefix) for k in checkpoint):
            checkpoint = OrderedDict((k[len(prefix):], v) for k, v in checkpoint.items())
    return checkpoint


def _torch_load(path: str, weights_only: bool, trust_hint: bool):
    try:
        return torch.load(path, map_location='cpu', weights_only=weights_only)
    except FileNotFoundError:
        raise SystemExit(f'checkpoint not found: {path}')
    except Exception as exc:  # unpickling errors name the refused class
        from dbdseg.utils.checkpoint import not_a_checkpoint_reason
        reason = not_a_checkpoint_reason(path, exc)
        if reason is not None:  # damaged or not a checkpoint: trusting it would not help
            raise SystemExit(f'{path} is not a checkpoint ({reason})')
        if trust_hint:
            raise SystemExit(f'cannot read {path} as a tensor-only checkpoint ({exc}); if you '
                             f'trust the file, pass --trust-source to load it with '
                             f'weights_only=False')
        raise SystemExit(f'cannot read {path} as a tensor-only checkpoint: {exc}')


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """``torch.load`` (CPU, ``weights_only=True``) of a checkpoint file, with a clear error.

    Args:
        path (str): the checkpoint file.

    Returns:
        dict: the loaded object (usually a state dict, possibly wrapped).

    Raises:
        SystemExit: the file is missing or is not a tensor-only checkpoint (a command-line
            error: the converters exit with the message).
    """
    return _torch_load(path, weights_only=True, trust_hint=False)


def load_checkpoint_file(path: str, trust_source: bool = False):
    """``torch.load`` on the CPU, tensor-only (``weights_only=True``) unless ``trust_source``.

    Args:
        path (str): the checkpoint file.
        trust_source (bool): load with ``weights_only=False`` (arbitrary pickles; only for
            files you trust). Defaults to False.

    Returns:
        object: the loaded checkpoint.

    Raises:
        SystemExit: the file is missing or cannot be read; the message points at
            ``--trust-source``.
    """
    return _torch_load(path, weights_only=not trust_source, trust_hint=True)


# ------------------------------------------------------------------------------ checking
def check_target_shapes(converted: Dict[str, torch.Tensor],
                        target: Dict[str, torch.Size],
                        strict: bool = False) -> List[str]:
    """Problems of ``converted`` against the target model's ``{key: shape}``.

    Args:
        converted (dict[str, Tensor]): the converted state dict.
        target (dict[str, Size]): the target model's key -> shape.
        strict (bool): also list target keys that ``converted`` lacks (first), as a strict
            ``load_state_dict`` would. Defaults to False.

    Returns:
        list[str]: keys missing in the target, shape mismatches (and, with ``strict``, keys
        missing in the converted checkpoint); empty when every key fits.
    """
    problems = []
    if strict:
        problems = [
            f'{k}: missing in the converted checkpoint' for k in target if k not in converted
        ]
    for key, value in converted.items():
        if key not in target:
            problems.append(f'{key}: not in the target model')
        elif tuple(value.shape) != tuple(target[key]):
            problems.append(f'{key}: shape {tuple(value.shape)} != target {tuple(target[key])}')
    return problems


def target_shapes_from_config(config: str,
                              cfg_options: Optional[dict] = None,
                              backbone_only: bool = False) -> Dict[str, torch.Size]:
    """Build ``cfg.model`` on the meta device (no weights, no download) and return its shapes.

    Registers mmseg's and dbdseg's modules first
    (:func:`dbdseg.utils.set_env.register_all_modules`, without changing the default scope).

    Args:
        config (str): config file.
        cfg_options (dict, optional): overrides merged into the config (``--cfg-options``).
            Defaults to None.
        backbone_only (bool): return only the backbone's shapes, without the ``backbone.``
            prefix. Defaults to False.

    Returns:
        dict[str, Size]: key -> shape of the model's state dict.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from dbdseg.utils.set_env import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    if backbone_only:
        return {k: v.shape for k, v in model.backbone.state_dict().items()}
    return {k: v.shape for k, v in model.state_dict().items()}


def format_keys(keys: List[str], limit: int = 20) -> str:
    """``keys[:limit]`` as a list literal, followed by `` ...`` when some were left out.

    Args:
        keys (list[str]): the keys.
        limit (int): how many to show. Defaults to 20.

    Returns:
        str: e.g. ``"['a', 'b'] ..."``.
    """
    return f'{keys[:limit]}{" ..." if len(keys) > limit else ""}'


def raise_problems(problems: List[str], what: str, limit: int = 30) -> None:
    """Refuse the conversion when there are problems, one per line.

    Args:
        problems (list[str]): problem descriptions (nothing happens when empty).
        what (str): what follows the count, e.g. ``'problem(s) against cfg.py'``.
        limit (int): how many problems to list. Defaults to 30.

    Raises:
        SystemExit: ``'<n> <what>:'`` followed by the problems, when there are any.
    """
    if problems:
        raise SystemExit(f'{len(problems)} {what}:\n  ' + '\n  '.join(problems[:limit]))


# ------------------------------------------------------------------------------ command line
def add_allow_unmapped(parser: argparse.ArgumentParser,
                       help: str = 'drop keys that follow no rule instead of refusing the file'):
    """Add ``--allow-unmapped`` (store_true) to ``parser``.

    Args:
        parser (ArgumentParser): the parser.
        help (str): the flag's help text. Defaults to the generic text.
    """
    parser.add_argument('--allow-unmapped', action='store_true', help=help)


def add_config_args(parser: argparse.ArgumentParser,
                    config_help: str,
                    default: Optional[str] = None):
    """Add ``--config`` and ``--cfg-options`` (mmengine ``DictAction``) to ``parser``.

    Args:
        parser (ArgumentParser): the parser.
        config_help (str): help text of ``--config``.
        default (str, optional): the default target config, a path relative to ``configs/``
            (resolved by :func:`resolve_config`; ``none`` on the command line skips the check).
            Defaults to None (no default: the check runs only when ``--config`` is given).
    """
    from mmengine.config import DictAction
    if default is not None:
        config_help += f' (default: the paper config configs/{default}; "none": no check)'
    parser.add_argument('--config', default=default, help=config_help)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides for --config, as in tools/train.py')


def add_trust_source(parser: argparse.ArgumentParser):
    """Add ``--trust-source`` (store_true; see :func:`load_checkpoint_file`) to ``parser``.

    Args:
        parser (ArgumentParser): the parser.
    """
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='load SRC with weights_only=False (only for files you trust)')


def add_allow_partial(parser: argparse.ArgumentParser, *aliases: str):
    """Add ``--allow-partial`` (store_true, ``dest='allow_partial'``) to ``parser``.

    Without it a converter refuses any gap (a source key that follows no rule, a key of the
    reference layout missing from the source, a target key not produced, a shape that does not
    fit); with it the checkpoint is written from what fits and every gap is printed.

    Args:
        parser (ArgumentParser): the parser.
        *aliases (str): older flag names accepted as the same switch (``--allow-unmapped``,
            ``--skip-mismatched``).
    """
    parser.add_argument(
        '--allow-partial',
        *aliases,
        dest='allow_partial',
        action='store_true',
        help='write what converts and fits, and print every gap (unknown or missing source '
        'keys, target keys not produced, misfitting shapes) instead of refusing' +
        (f'; {", ".join(aliases)}: older names of this flag' if aliases else ''))


def paper_config(relpath: str) -> str:
    """Absolute path of a config shipped with dbdseg, ``relpath`` relative to ``configs/``.

    Looks in the checkout's ``configs/`` next to the package, then in the installed package's
    ``dbdseg/.mim/configs/``.

    Args:
        relpath (str): e.g. ``'afiu/afiu_r50_1xb8-32k_cuhk-320x320.py'``.

    Returns:
        str: the first existing path (the checkout's when neither exists, so that the error that
        follows names it).
    """
    package = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    candidates = [
        osp.join(osp.dirname(package), 'configs', relpath),
        osp.join(package, '.mim', 'configs', relpath)
    ]
    return next((c for c in candidates if osp.isfile(c)), candidates[0])


def resolve_config(config: Optional[str]) -> Optional[str]:
    """The ``--config`` value as a file: None for ``None`` / ``'none'``; an existing path as it
    is; otherwise a path relative to dbdseg's ``configs/`` (:func:`paper_config`).

    Raises:
        SystemExit: the config exists in neither place (names both).
    """
    if config is None or config.lower() == 'none':
        return None
    if osp.isfile(config):
        return config
    shipped = paper_config(config)
    if osp.isfile(shipped):
        return shipped
    raise SystemExit(f'config not found: {config} (nor {shipped})')


def missing_reference_keys(keys: Iterable[str], reference: Iterable[str]) -> List[str]:
    """Keys of the reference layout absent from ``keys``, in reference order.

    BatchNorm ``num_batches_tracked`` counters are not required (checkpoints written before
    PyTorch 0.4.1 lack them; the converters add zero counters where needed).

    Args:
        keys (Iterable[str]): the source state dict's keys (unwrapped).
        reference (Iterable[str]): the reference layout's keys.

    Returns:
        list[str]: the missing keys.
    """
    keys = set(keys)
    return [k for k in reference if k not in keys and not k.endswith('num_batches_tracked')]


def target_gaps(converted: Dict[str, torch.Tensor],
                target: Dict[str, torch.Size],
                prefixes: Optional[Sequence[str]] = None) -> Tuple[OrderedDict, List[str]]:
    """Fit ``converted`` to a target model's ``{key: shape}``: what fits, and every gap.

    Args:
        converted (dict[str, Tensor]): the converted state dict.
        target (dict[str, Size]): the target model's key -> shape.
        prefixes (Sequence[str], optional): target keys that the conversion must produce are
            those starting with one of these (the parts a converter fills; e.g. MINet gives the
            backbone and the AIM/SIM blocks, not AFIU's fusion convs or head). Defaults to None
            (every target key).

    Returns:
        tuple: ``(fitting, gaps)``: the converted entries present in the target with equal shapes,
        and one line per target key not produced, converted key not in the target and shape
        that differs (empty when a strict load of the parts will succeed).
    """
    wanted = [k for k in target if prefixes is None or k.startswith(tuple(prefixes))]
    gaps = [f'{k}: target key not produced by the conversion' for k in wanted if k not in converted]
    gaps += check_target_shapes(converted, target)
    fitting = OrderedDict(
        (k, v) for k, v in converted.items() if k in target and tuple(v.shape) == tuple(target[k]))
    return fitting, gaps


def settle_gaps(gaps: List[str],
                allow_partial: bool,
                tool: str,
                target: Optional[str] = None,
                limit: int = 40) -> None:
    """Refuse a conversion with gaps, or print every gap under ``--allow-partial``.

    Args:
        gaps (list[str]): one line per gap (nothing happens when empty).
        allow_partial (bool): print every gap and return instead of refusing.
        tool (str): the converter's name, for the messages.
        target (str, optional): the target config the result was checked against, named in
            the messages. Defaults to None (not checked).
        limit (int): how many gaps the refusal lists. Defaults to 40.

    Raises:
        SystemExit: gaps without ``allow_partial``: their count, the first ``limit``, and the
            hint to pass ``--allow-partial``; nothing has been written.
    """
    if not gaps:
        return
    against = f' (target: {target})' if target else ' (target: none)'
    if allow_partial:
        print(f'{tool}: --allow-partial: {len(gaps)} gap(s){against}, the checkpoint holds what '
              f'fits:')
        for gap in gaps:
            print(f'  {gap}')
        return
    more = f'\n  ... and {len(gaps) - limit} more' if len(gaps) > limit else ''
    raise SystemExit(f'{tool}: {len(gaps)} gap(s){against}, nothing written:\n  ' +
                     '\n  '.join(gaps[:limit]) + more +
                     '\npass --allow-partial to write what fits (every gap is then printed)')


def source_gaps(report: dict, what: str) -> List[str]:
    """The gap lines of a conversion report: reference keys missing from the source, shapes other
    than the reference's, and source keys that follow no rule (in that order).

    Args:
        report (dict): a converter's report; its optional lists ``missing`` (keys),
            ``bad_shapes`` (lines) and ``unmapped`` (keys) are read.
        what (str): the reference, for the lines, e.g. ``'MINet_Res50'``.

    Returns:
        list[str]: one line per gap.
    """
    gaps = [f'{k}: {what} key missing from the source' for k in report.get('missing', [])]
    gaps += list(report.get('bad_shapes', []))
    gaps += [f'{k}: source key follows no {what} rule' for k in report.get('unmapped', [])]
    return gaps


def check_and_settle(converted: Dict[str, torch.Tensor],
                     gaps: List[str],
                     config: Optional[str],
                     tool: str,
                     allow_partial: bool = False,
                     cfg_options: Optional[dict] = None,
                     prefixes: Optional[Sequence[str]] = None,
                     backbone_only: bool = False,
                     key_prefix: str = '') -> OrderedDict:
    """The common end of every converter: check against the target config, then refuse or print.

    Args:
        converted (dict[str, Tensor]): the converted state dict.
        gaps (list[str]): the source-side gaps already found (:func:`source_gaps`).
        config (str, optional): the ``--config`` value (:func:`resolve_config`; None / ``'none'``:
            no check).
        tool (str): the converter's name, for the messages.
        allow_partial (bool): see :func:`settle_gaps`. Defaults to False.
        cfg_options (dict, optional): overrides for the config. Defaults to None.
        prefixes (Sequence[str], optional): the target keys the conversion fills
            (:func:`target_gaps`). Defaults to None (every key).
        backbone_only (bool): check against the model's backbone only. Defaults to False.
        key_prefix (str): prefix of the converted keys in front of the target's keys (e.g.
            ``'backbone.'`` for a backbone written as a whole-model checkpoint). Defaults to ''.

    Returns:
        OrderedDict: what fits the target (``converted`` unchanged without a config).

    Raises:
        SystemExit: gaps without ``allow_partial`` (:func:`settle_gaps`); a config that does not
            exist.
    """
    config = resolve_config(config)
    out = OrderedDict(converted)
    if config:
        target = target_shapes_from_config(config, cfg_options, backbone_only=backbone_only)
        target = OrderedDict((key_prefix + k, v) for k, v in target.items())
        prefixes = None if prefixes is None else [key_prefix + p for p in prefixes]
        out, misfits = target_gaps(out, target, prefixes)
        gaps = list(gaps) + misfits
        if not misfits:
            part = ' (its backbone)' if backbone_only else ''
            print(f'checked against {config}{part}: every key present, every shape equal')
    else:
        print('--config none: the result is not checked against a model')
    settle_gaps(gaps, allow_partial, tool, config)
    return out


# ------------------------------------------------------------------------------ writing
def save_checkpoint(dst: str, state_dict: Dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``{'state_dict': ..., 'meta': ...}`` to ``dst`` atomically and say so.

    The checkpoint is serialised in memory (``torch.save`` to a buffer) and written with
    :func:`dbdseg.utils.fileio.atomic_write_bytes`, so ``dst`` never holds a partial file; its
    folder is created if missing.

    Args:
        dst (str): output file.
        state_dict (dict[str, Tensor]): the converted weights.
        meta (dict): provenance (``converted_from``, ``converter``, ...).

    Raises:
        OSError: ``dst`` cannot be written (names the file).
    """
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state_dict, meta=meta), buffer)
    atomic_write_bytes(dst, buffer.getbuffer())
    print(f'saved {dst}')
