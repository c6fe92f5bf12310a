from .atomic_checkpoint_hook import AtomicCheckpointHook
from .olr_hook import OLRHook
from .rng_state_hook import RNGStateHook

__all__ = ['AtomicCheckpointHook', 'OLRHook', 'RNGStateHook']
