from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_check_hook import CheckpointCheckHook
from .olr_hook import OLRHook
from .rng_state_hook import RNGStateHook

__all__ = ['AtomicCheckpointHook', 'CheckpointCheckHook', 'OLRHook', 'RNGStateHook']
