"""Runtime set-up shared by ``tools/train.py`` and ``tools/test.py``: running without CUDA.

Without CUDA, the distributed backend becomes gloo and a torchrun (``--launcher pytorch``) run is
set up for CPU DDP: mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device``, which a
CPU-only torch does not have, so the gloo process group is initialised here, the model wrapper gets
``device_ids=None`` (CPU modules) and SyncBN, which has no CPU kernel, is turned into BN.

Import this module by its full path (``from dbdseg.utils.runtime import ...``).
"""
import datetime
import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = [
    'UnsupportedLauncherError', 'replace_sync_bn', 'setup_cpu_runtime', 'shutdown_distributed'
]


class UnsupportedLauncherError(ValueError):
    """A job launcher that cannot run without CUDA (anything but 'none' and 'pytorch').

    A subclass of ``ValueError``, so that a tool can tell it apart from other ``ValueError`` s
    (for instance torch's own, when ``init_process_group`` misses its environment variables).
    """


def replace_sync_bn(node) -> int:
    """Replace ``norm_cfg=dict(type='SyncBN')`` (or ``'MMSyncBN'``) by ``'BN'`` in a config tree.

    Walks nested dicts (including mmengine ``ConfigDict`` s), lists and tuples and edits the
    ``norm_cfg`` dicts in place; other norm types are left alone.

    Args:
        node: a config tree (dict, list, tuple or a leaf value, which is ignored).

    Returns:
        int: how many ``norm_cfg`` s were replaced.

    Raises:
        Nothing of its own.
    """
    n = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == 'norm_cfg' and isinstance(value, dict)
                    and value.get('type') in ('SyncBN', 'MMSyncBN')):
                value['type'] = 'BN'
                n += 1
            else:
                n += replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            n += replace_sync_bn(value)
    return n


def setup_cpu_runtime(cfg: Config, launcher: str, dist_script: str = 'tools/dist_train.sh') -> None:
    """Adapt the runtime of ``cfg`` to a machine without CUDA (no-op when CUDA is available).

    * ``env_cfg.dist_cfg.backend`` 'nccl' (or unset) -> 'gloo';
    * for ``launcher='pytorch'`` (torchrun): initialise the gloo process group here (unless one is
      already initialised), wrap the model in DDP with ``device_ids=None`` (CPU modules), set
      ``cfg.sync_bn = None`` and turn SyncBN ``norm_cfg`` s of ``cfg.model`` into BN.

    Args:
        cfg: the config, edited in place.
        launcher: the job launcher ('none', 'pytorch', 'slurm' or 'mpi').
        dist_script: the multi-process launch script named in the error message.

    Raises:
        UnsupportedLauncherError: (a ``ValueError``) a launcher other than 'none' / 'pytorch'
            without CUDA; the message names the launcher.
        ValueError, RuntimeError: from ``torch.distributed.init_process_group`` (e.g. the torchrun
            environment variables are missing).
    """
    if torch.cuda.is_available():
        return
    if cfg.get('env_cfg', None) is None:
        cfg.env_cfg = dict()
    if cfg.env_cfg.get('dist_cfg', None) is None:
        cfg.env_cfg.dist_cfg = dict()
    dist_cfg = cfg.env_cfg.dist_cfg
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
        print_log('CUDA is not available: env_cfg.dist_cfg.backend set to "gloo"', logger='current')
    if launcher == 'none':
        return
    if launcher != 'pytorch':
        raise UnsupportedLauncherError(
            f'without CUDA only "--launcher pytorch" (torchrun, {dist_script}) is '
            f'supported, got "{launcher}"')
    import torch.distributed as dist
    if not dist.is_initialized():
        timeout = dist_cfg.get('timeout', 1800)
        dist.init_process_group(
            backend=dist_cfg['backend'], timeout=datetime.timedelta(seconds=timeout))
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        wrapper = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    cfg.sync_bn = None
    n = replace_sync_bn(cfg.get('model', {}))
    if n:
        print_log(
            f'CPU distributed run: {n} SyncBN norm_cfg(s) replaced by BN (SyncBN needs CUDA)',
            logger='current',
            level=logging.WARNING)


def shutdown_distributed() -> None:
    """Destroy the process group at the end of a distributed run (no-op when there is none).

    mmengine leaves the group alive, and a gloo group still alive at interpreter exit can abort the
    process. All ranks meet at a barrier first.

    Raises:
        RuntimeError: from ``torch.distributed`` when the barrier fails (e.g. a rank died).
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
