from .label_bank import OLRLabelBank
from .olr_hook import OLRHook
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .rng_state_hook import RNGStateHook

__all__ = ['AtomicCheckpointHook', 'OLRHook', 'OLRLabelBank', 'RNGStateHook']
