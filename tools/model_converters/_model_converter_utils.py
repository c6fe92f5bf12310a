"""Shared helpers of the checkpoint converters in ``tools/model_converters/``.

The converters (``minet2dbdseg``, ``u2net2dbdseg``, ``dd2dbdseg``, ``a2s2dbdseg``,
``mocov2_to_dbdseg``) each map one family of source checkpoints onto dbdseg keys; what they share
lives here: reading the source file, unwrapping the state dict, comparing the converted keys with
a target model's shapes, the common command-line flags and writing the result.

The scripts import this file by its folder (``sys.path``), both when run as
``python tools/model_converters/x.py`` and when loaded by file path in the tests. It is named
``_model_converter_utils`` (not ``_converter_utils``) so that it never shadows, nor is shadowed by,
``tools/dataset_converters/_converter_utils.py`` in one process. Importing it also puts the
repository root on ``sys.path`` so that ``import dbdseg`` works from a source checkout.
"""
import argparse
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

__all__ = [
    'unwrap_state_dict', 'load_state_dict_file', 'load_checkpoint_file', 'check_target_shapes',
    'target_shapes_from_config', 'format_keys', 'raise_problems', 'add_allow_unmapped',
    'add_config_args', 'add_trust_source', 'save_checkpoint'
]


# ------------------------------------------------------------------------------ reading
def unwrap_state_dict(checkpoint,
                      wrappers: Sequence[str] = ('state_dict', 'model'),
                      prefixes: Sequence[str] = ('module.', )) -> Dict[str, torch.Tensor]:
    """Unwrap a loaded checkpoint down to its state dict.

    Args:
        checkpoint (dict): what ``torch.load`` returned.
        wrappers (Sequence[str]): keys whose dict value replaces the checkpoint, tried in order
            (``{'state_dict': {...}}``, ``{'model': {...}}``). Default: ('state_dict', 'model').
        prefixes (Sequence[str]): key prefixes removed, in order, when *every* key has them
            (DataParallel's ``module.``). Default: ('module.',).

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
        SystemExit: the file is missing or is not a tensor-only checkpoint.
    """
    return _torch_load(path, weights_only=True, trust_hint=False)


def load_checkpoint_file(path: str, trust_source: bool = False):
    """``torch.load`` on the CPU, tensor-only (``weights_only=True``) unless ``trust_source``.

    Args:
        path (str): the checkpoint file.
        trust_source (bool): load with ``weights_only=False`` (arbitrary pickles; only for
            files you trust). Default: False.

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
            ``load_state_dict`` would. Default: False.

    Returns:
        list[str]: keys missing in the target, shape mismatches (and, with ``strict``, keys
        missing in the converted checkpoint); empty when every key fits.
    """
    problems = []
    if strict:
        problems = [f'{k}: missing in the converted checkpoint' for k in target
                    if k not in converted]
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

    Args:
        config (str): config file.
        cfg_options (dict, optional): overrides merged into the config (``--cfg-options``).
        backbone_only (bool): return only the backbone's shapes, without the ``backbone.``
            prefix. Default: False.

    Returns:
        dict[str, Size]: key -> shape of the model's state dict.
    """
    import dbdseg  # noqa: F401  registers dbdseg's modules
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
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
        limit (int): how many to show. Default: 20.

    Returns:
        str: e.g. ``"['a', 'b'] ..."``.
    """
    return f'{keys[:limit]}{" ..." if len(keys) > limit else ""}'


def raise_problems(problems: List[str], what: str, limit: int = 30) -> None:
    """Refuse the conversion when there are problems, one per line.

    Args:
        problems (list[str]): problem descriptions (nothing happens when empty).
        what (str): what follows the count, e.g. ``'problem(s) against cfg.py'``.
        limit (int): how many problems to list. Default: 30.

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
        help (str): the flag's help text.
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
    """Write ``{'state_dict': ..., 'meta': ...}`` to ``dst`` (parents created) and say so.

    Args:
        dst (str): output file.
        state_dict (dict[str, Tensor]): the converted weights.
        meta (dict): provenance (``converted_from``, ``converter``, ...).
    """
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), dst)
    print(f'saved {dst}')

