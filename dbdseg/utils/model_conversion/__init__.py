"""Conversion of checkpoints from other code bases into dbdseg keys.

One module per source family maps its keys onto dbdseg's model names (a pure function of a
state dict, no I/O, with a report of every key mapped, dropped with its reason, or refused):

* :mod:`.minet` -- MINet-Res50 -> AFIU backbone and AIM/SIM neck;
* :mod:`.u2net` -- U²-Net / U²-Net-lite stages -> :class:`~dbdseg.models.utils.RSU` blocks;
* :mod:`.depth_distillation` -- depth-distillation (DD) models and their ImageNet ResNeXt;
* :mod:`.a2s` -- official A2S-v1 stage-1 / stage-2 networks;
* :mod:`.mocov2` -- MoCo-v1/v2 ResNet query encoders -> ``ResNetWithStem``.

:mod:`.common` holds what they share (reading the source file, unwrapping the state dict, checking
the result against a target model, the common command-line flags, writing the result atomically);
its functions are re-exported here. The command-line converters in ``tools/model_converters/``
parse arguments and call these functions.

The rule every converter follows: each key of the source's reference layout is mapped or dropped
with a stated reason; a source key that follows no rule, a reference key missing from the source,
a target key not produced or a shape that does not fit is an error unless ``--allow-partial``
(then the checkpoint holds what fits and every gap is printed); the result is checked against a
target config, by default the paper's config of the model (``--config none`` skips the check).

This is checkpoint handling, not a model part, hence ``dbdseg.utils`` rather than
``dbdseg.models``; the key tables of a family are kept together with its conversion function, so
each mapping has one home. Importing this package imports torch (not mmseg).
"""
from .common import (add_allow_partial, add_allow_unmapped, add_config_args, add_trust_source,
                     check_and_settle, check_target_shapes, format_keys, load_checkpoint_file,
                     load_state_dict_file, missing_reference_keys, paper_config, raise_problems,
                     resolve_config, save_checkpoint, settle_gaps, source_gaps, target_gaps,
                     target_shapes_from_config, unwrap_state_dict)

__all__ = [
    'add_allow_partial', 'add_allow_unmapped', 'add_config_args', 'add_trust_source',
    'check_and_settle', 'source_gaps', 'check_target_shapes', 'format_keys', 'load_checkpoint_file',
    'load_state_dict_file', 'missing_reference_keys', 'paper_config', 'raise_problems',
    'resolve_config', 'save_checkpoint', 'settle_gaps', 'target_gaps', 'target_shapes_from_config',
    'unwrap_state_dict'
]
