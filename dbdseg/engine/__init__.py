from .hooks import AtomicCheckpointHook, OLRHook, RNGStateHook
from .label_bank import OLRLabelBank

__all__ = ['AtomicCheckpointHook', 'OLRHook', 'OLRLabelBank', 'RNGStateHook']
