"""What every checkpoint converter shares: reading the source file, unwrapping its state dict,
checking the converted keys against a target model, the common command-line flags and writing
the result atomically.

The per-model key mappings live next to this module (:mod:`.minet`, :mod:`.u2net`,
:mod:`.depth_distillation`, :mod:`.a2s`, :mod:`.mocov2`); the command-line converters in
``tools/model_converters/`` parse arguments and call them.
"""
import argparse
import io
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch

from dbdseg.utils.fileio import atomic_write_bytes

__all__ = [
    'unwrap_state_dict', 'load_state_dict_file', 'load_checkpoint_file', 'check_target_shapes',
    'target_shapes_from_config', 'format_keys', 'raise_problems', 'add_allow_unmapped',
    'add_config_args', 'add_trust_source', 'save_checkpoint'
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


def add_config_args(parser: argparse.ArgumentParser, config_help: str):
    """Add ``--config`` and ``--cfg-options`` (mmengine ``DictAction``) to ``parser``.

    Args:
        parser (ArgumentParser): the parser.
        config_help (str): help text of ``--config``.
    """
    from mmengine.config import DictAction
    parser.add_argument('--config', help=config_help)
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
