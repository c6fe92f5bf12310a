"""Parameter counts and fp32 checkpoint size of a dbdseg/mmseg model config.

Usage::

    python tools/analysis_tools/model_size.py CONFIG [--cfg-options k=v ...] [--json FILE]

Builds ``cfg.model`` on the CPU without loading any weights (``init_cfg``/``pretrained`` are
ignored: no download), then prints

* the number of parameters, in total and per top-level part (backbone / neck / decode_head /
  auxiliary_head / anything else the segmentor owns), and the trainable ones;
* the size of the model's fp32 ``state_dict`` (parameters and buffers such as BN running
  statistics) as written by ``torch.save`` into memory: the size of a weights-only checkpoint, in
  MB (10^6 bytes) and MiB. Papers' "model size" in M is usually one of these.

Used for the model-size rows of ``configs/*/README.md``.
"""
import argparse
import io
import json
import sys
from collections import OrderedDict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Parameter counts and fp32 checkpoint size')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, as in tools/train.py')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    return parser.parse_args(argv)


def state_dict_bytes(module: torch.nn.Module) -> int:
    """Bytes of ``torch.save(state_dict)`` with every floating tensor cast to float32."""
    state = OrderedDict((k, v.detach().float() if v.is_floating_point() else v.detach())
                        for k, v in module.state_dict().items())
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()


def count_params(module: torch.nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def model_size(model: torch.nn.Module) -> dict:
    """Return ``{'total_params', 'trainable_params', 'parts': {name: params}, 'fp32_bytes',
    'fp32_MB', 'fp32_MiB'}`` for a built model."""
    parts = OrderedDict()
    for name, child in model.named_children():
        n = count_params(child)
        if n:
            parts[name] = n
    nbytes = state_dict_bytes(model)
    return dict(
        total_params=count_params(model),
        trainable_params=count_params(model, trainable_only=True),
        parts=parts,
        fp32_bytes=nbytes,
        fp32_MB=nbytes / 1e6,
        fp32_MiB=nbytes / 2**20)


def build_model(cfg):
    """Build ``cfg.model`` from the mmseg registry, without pretrained weights."""
    import dbdseg  # noqa: F401  registers dbdseg's modules
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model.copy()
    model_cfg.pop('pretrained', None)
    return MODELS.build(model_cfg)


def main(argv=None):
    from mmengine.config import Config
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    info = model_size(model)
    info['config'] = args.config
    print(f'config: {args.config}')
    print(f'{"part":<20}{"params":>14}')
    for name, n in info['parts'].items():
        print(f'{name:<20}{n:>14,}')
    print(f'{"total":<20}{info["total_params"]:>14,}  ({info["total_params"] / 1e6:.3f} M)')
    print(f'{"trainable":<20}{info["trainable_params"]:>14,}')
    print(f'fp32 state dict: {info["fp32_bytes"]:,} bytes = {info["fp32_MB"]:.2f} MB '
          f'= {info["fp32_MiB"]:.2f} MiB')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(info, f, indent=2)
    return info


if __name__ == '__main__':
    main()
