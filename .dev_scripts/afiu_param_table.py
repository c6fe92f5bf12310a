"""AFIU parameter table beside the reference counts, and a CPU forward (shapes, latency).

Usage::

    python .dev_scripts/afiu_param_table.py [--config CFG] [--cfg-options k=v ...]
        [--size H W] [--runs N] [--threads T] [--no-forward] [--json FILE]

Builds the AFIU model (default ``configs/_base_/models/afiu.py``; no pretrained weights are fetched,
PyTorch's default initialisation) and prints, part by part, its parameter counts next to the
counts of the models AFIU builds on (Qian et al. 2020, Sec. 3.2: a ResNet-50 encoder with MINet's
AIM and SIM blocks, a decoder of stacked RSU blocks from U²-Net), counted on the official
implementations (MINet_Res50 of lartpang/MINet @ 0f4ecf70; U²-Net and U²-Netp of
xuebinqin/U-2-Net) and embedded below:

* backbone vs MINet-Res50's ``div_2`` ... ``div_32`` (torchvision ResNet-50 without fc);
* neck: each AIM vs MINet's ``trans.conv0`` ... ``trans.conv4``, each SIM vs ``sim*`` (SIM(64, 32));
  the fusion convs have no reference;
* head: each RSU level (its U²-Net-style name and (in, mid, out)); the paper does not give AFIU's
  widths, so the RSU implementation is checked separately: ``RSU`` built at every U²-Net and
  U²-Net-lite stage configuration vs those stages' counts (22 rows).

``[RECON]`` in the source column marks parts whose widths the paper does not state (Sec. 3.2 and
Fig. 4 name the blocks only): dbdseg's own choice, so there is nothing to compare with.

Then, unless ``--no-forward``, one warm-up and ``--runs`` timed forward passes of a 1x3xHxW input
(default 320x320) on the CPU in eval mode without gradients (backbone -> neck -> head logits ->
bilinear resize to the input), printing every intermediate shape, the multiply-accumulates of the
convolutions per part (counted with forward hooks) and the median / min latency.
"""
import argparse
import json
import os.path as osp
import statistics
import time
from collections import OrderedDict
from pathlib import Path

import torch

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import count_params as count

DEFAULT_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_', 'models', 'afiu.py')

# MINet_Res50 of lartpang/MINet @ 0f4ecf70: ResNet-50 (div_2..div_32), trans.conv0..4, sim*
MINET_BACKBONE = 23508032
MINET_AIM = (447872, 903104, 10214400, 40482560, 85674240)
MINET_SIM = 194464


def build_model(config: str, cfg_options=None, device='cpu'):
    """``cfg.model`` from the mmseg registry with the backbone's pretrained fetch switched off."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.model.pop('pretrained', None)
    if 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None
    with torch.device(device):
        return MODELS.build(cfg.model)


def param_rows(model) -> list:
    """Rows ``(part, module, params, reference, reference source)`` of an AFIU EncoderDecoder.

    A reference count is given only where the dbdseg module has MINet-Res50's structure (ResNet-50;
    an AIM with MINet's inputs, width and output; SIM(64, 32)); other widths get ``None``."""
    backbone = model.backbone
    is_r50 = getattr(backbone, 'depth', None) == 50 and type(backbone).__name__ == 'ResNetWithStem'
    rows = [('backbone', f'{type(backbone).__name__} depth {getattr(backbone, "depth", "?")}',
             count(backbone), MINET_BACKBONE if is_r50 else None,
             'MINet-Res50 div_2..div_32' if is_r50 else 'no reference (not ResNet-50)')]
    neck = model.neck
    r50 = (64, 256, 512, 1024, 2048)
    minet_in = [r50[0:2], r50[0:3], r50[1:4], r50[2:5], r50[3:5]]
    for i, aim in enumerate(neck.aims):
        same = (
            tuple(aim.in_channels) == minet_in[i] and aim.mid_channels == min(minet_in[i])
            and aim.identity.out_channels == 64)
        rows.append(('neck', f'aims.{i} {type(aim).__name__} in={aim.in_channels} '
                     f'mid={aim.mid_channels}', count(aim), MINET_AIM[i] if same else None,
                     f'MINet trans.conv{i}' if same else 'no reference (other widths)'))
    for i, sim in enumerate(neck.sims):
        same = (sim.channels, sim.low_channels) == (64, 32)
        rows.append(('neck', f'sims.{i} SIM({sim.channels}, {sim.low_channels})', count(sim),
                     MINET_SIM if same else None,
                     f'MINet sim{2 ** (i + 1)}' if same else 'no reference (other widths)'))
    for i, fusion in enumerate(neck.fusions):
        rows.append(('neck', f'fusions.{i}', count(fusion), None, '[RECON] no reference'))
    head = model.decode_head
    for i, block in enumerate(head.blocks):
        rows.append(('head', f'blocks.{i} {block.name}({block.in_channels}, {block.mid_channels}, '
                     f'{block.out_channels})', count(block), None, '[RECON] widths'))
    if getattr(head, 'side_outputs', False):
        rows.append(('head', 'side_convs', count(head.side_convs), None, 'option'))
    rows.append(('head', 'conv_seg', count(head.conv_seg), None, ''))
    return rows


def rsu_check_rows() -> list:
    """``(model, stage, RSU name, dbdseg params, reference params)`` for every U²-Net and
    U²-Net-lite stage."""
    from dbdseg.models.utils import RSU
    rows = []
    from dbdseg.utils.model_conversion.u2net import (U2NET_STAGE_PARAMS, U2NET_STAGES,
                                                     U2NETP_STAGE_PARAMS, U2NETP_STAGES)
    for net, table, params in (('U2NET', U2NET_STAGES, U2NET_STAGE_PARAMS),
                               ('U2NETP', U2NETP_STAGES, U2NETP_STAGE_PARAMS)):
        for stage, (h, cin, mid, cout, dilated) in table.items():
            ref = params[stage]
            with torch.device('meta'):
                block = RSU(h, cin, mid, cout, dilated=dilated)
            rows.append((net, stage, f'{block.name}({cin}, {mid}, {cout})', count(block), ref))
    return rows


@torch.no_grad()
def forward_report(model, size, runs=5, threads=None) -> dict:
    """Shapes of every stage and the latency of a (1, 3, H, W) CPU forward in eval mode."""
    import torch.nn.functional as F
    if threads:
        torch.set_num_threads(threads)
    model.eval()
    x = torch.randn(1, 3, *size)

    def run():
        feats = model.backbone(x)
        ecs = model.neck(feats)
        logits = model.decode_head(ecs)
        return feats, ecs, logits, F.interpolate(
            logits, size=size, mode='bilinear', align_corners=False)

    macs = dict(backbone=0, neck=0, decode_head=0)

    def hook_for(part):

        def hook(module, inputs, output):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs[part] += output.numel() * (module.in_channels // module.groups) * k

        return hook

    handles = [
        m.register_forward_hook(hook_for(part)) for part in macs
        for m in getattr(model, part).modules() if isinstance(m, torch.nn.Conv2d)
    ]
    feats, ecs, logits, out = run()  # warm-up, counting convolution multiply-accumulates
    for handle in handles:
        handle.remove()
    decoded = model.decode_head.decode(ecs)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return dict(
        input=list(x.shape),
        backbone=[list(f.shape) for f in feats],
        neck=[list(e.shape) for e in ecs],
        decoder=[list(d.shape) for d in decoded],
        logits=list(logits.shape),
        output=list(out.shape),
        conv_gmacs={
            k: v / 1e9
            for k, v in macs.items()
        },
        threads=torch.get_num_threads(),
        runs=runs,
        latency_ms_median=1000 * statistics.median(times),
        latency_ms_min=1000 * min(times))


def _fmt(n):
    return '-' if n is None else f'{n:,}'


def format_tables(rows, check_rows, total) -> str:
    lines = [
        'AFIU parameters (dbdseg) beside the reference models', '',
        f'{"part":<9}{"module":<52}{"dbdseg":>13}{"reference":>13}  {"match":<6}source', '-' * 110
    ]
    for part, name, n, ref, src in rows:
        match = '' if ref is None else ('yes' if n == ref else 'NO')
        lines.append(f'{part:<9}{name:<52}{_fmt(n):>13}{_fmt(ref):>13}  {match:<6}{src}')
    lines.append('-' * 110)
    parts = OrderedDict()
    for part, _, n, _, _ in rows:
        parts[part] = parts.get(part, 0) + n
    for part, n in parts.items():
        lines.append(f'{part:<9}{"(total)":<52}{_fmt(n):>13}')
    lines.append(f'{"model":<9}{"(total)":<52}{_fmt(total):>13}')
    lines += [
        '', 'RSU implementation vs U²-Net stages (same height, in, mid, out)', '',
        f'{"model":<8}{"stage":<9}{"block":<26}{"dbdseg":>13}{"reference":>13}  match', '-' * 80
    ]
    for net, stage, name, n, ref in check_rows:
        lines.append(f'{net:<8}{stage:<9}{name:<26}{_fmt(n):>13}{_fmt(ref):>13}  '
                     f'{"yes" if n == ref else "NO"}')
    return '\n'.join(lines)


def format_forward(rep) -> str:
    return '\n'.join([
        f'forward on CPU ({rep["threads"]} threads), eval, no grad, input {rep["input"]}:',
        f'  backbone E1..E5 {rep["backbone"]}', f'  neck EC1..EC5   {rep["neck"]}',
        f'  head D1..D5     {rep["decoder"]}',
        f'  logits {rep["logits"]} -> resized output {rep["output"]}',
        '  convolution GMACs: ' + ', '.join(f'{k} {v:.2f}' for k, v in rep['conv_gmacs'].items()) +
        f' (total {sum(rep["conv_gmacs"].values()):.2f})',
        f'  latency over {rep["runs"]} runs: median {rep["latency_ms_median"]:.1f} ms, '
        f'min {rep["latency_ms_min"]:.1f} ms'
    ])


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='AFIU parameter table and CPU forward')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='model or full config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings, as in tools/train.py')
    parser.add_argument('--size', nargs=2, type=int, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--runs', type=int, default=5, help='timed forward passes')
    parser.add_argument('--threads', type=int, help='torch intra-op threads')
    parser.add_argument('--no-forward', action='store_true', help='parameter table only')
    parser.add_argument('--json', help='also write everything to this JSON file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = build_model(args.config, args.cfg_options, device='meta' if args.no_forward else 'cpu')
    rows = param_rows(model)
    checks = rsu_check_rows()
    total = count(model)
    print(format_tables(rows, checks, total))
    result = dict(
        config=args.config,
        total_params=total,
        rows=[dict(part=p, module=m, params=n, reference=r, source=s) for p, m, n, r, s in rows],
        rsu_check=[
            dict(model=a, stage=b, block=c, params=n, reference=r) for a, b, c, n, r in checks
        ])
    if not args.no_forward:
        rep = forward_report(model, tuple(args.size), runs=args.runs, threads=args.threads)
        print()
        print(format_forward(rep))
        result['forward'] = rep
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
