"""Per-level parameter table of a depth-distillation (DD) model beside the reference, and the shapes
of every side output.

Usage::

    python .dev_scripts/dd_param_table.py [CONFIG] [--reference resskspp|vggskspp|FILE]
        [--size 320] [--cfg-options k=v ...] [--markdown]

Builds ``cfg.model`` on the meta device (no weights, no download, no computation), counts the
parameters of every decoder level of ``SABHead`` (block = DD's ``deconvK``, the two side
classifiers = ``classifierK``, SAB = ``sideattK``), the two fusions, the head, the backbone and the
whole model, and prints them beside the counts of the official model (entry points ``resskspp``
/ ``vggskspp`` of github.com/vinthony/depth-distillation @ 6a59c510, measured by building them
with random weights; embedded here, or read from a key-list file given as ``--reference FILE``,
whose ``## parameter counts by module`` section lists ``name<TAB>class<TAB>params``). Then it
runs a forward pass on the meta device for a ``1 x 3 x size x size`` input and prints the shape of
the fused and of every side output (defocus and depth), as DD's ``forward`` returns them.

CONFIG defaults to ``configs/depth_distillation/dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py``; the
reference defaults to ``vggskspp`` for a ``VGGWithStem`` backbone, else ``resskspp``.
"""
import argparse
import re
from collections import OrderedDict
from pathlib import Path

import torch

from dbdseg.utils import register_all_modules
from dbdseg.utils.benchmark import count_params as n_params

REPO = Path(__file__).resolve().parents[1]

DEFAULT_CONFIG = REPO / 'configs' / 'depth_distillation' / \
    'dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py'

#: parameter counts by module of the official models (resskspp / vggskspp, depth 1)
REFERENCE = {
    'resskspp':
    OrderedDict(
        pretrained_net=42128704,
        deconv1=31812640,
        deconv2=7976480,
        deconv3=2005792,
        deconv4=503008,
        deconv5=33920,
        classifier1=2050,
        classifier2=1026,
        classifier3=514,
        classifier4=130,
        classifier5=66,
        sideatt1=961,
        sideatt2=961,
        sideatt3=961,
        sideatt4=961,
        fusion=6,
        fusiond=6),
    'vggskspp':
    OrderedDict(
        pretrained_net=14714688,
        deconv1=2039328,
        deconv2=2005792,
        deconv3=507296,
        deconv4=129760,
        deconv5=33920,
        classifier1=1026,
        classifier2=514,
        classifier3=258,
        classifier4=130,
        classifier5=66,
        sideatt1=961,
        sideatt2=961,
        sideatt3=961,
        sideatt4=961,
        fusion=6,
        fusiond=6),
}


def read_reference(path):
    """Depth-1 ``name -> params`` of a key-list file (its ``## parameter counts by module``
    table)."""
    counts = OrderedDict()
    text = Path(path).read_text()
    table = text.split('## parameter counts by module', 1)[1].split('##', 1)[0]
    for line in table.splitlines():
        m = re.match(r'^(\w+)\t\w+\t(\d+)$', line)
        if m:
            counts[m.group(1)] = int(m.group(2))
    if not counts:
        raise SystemExit(f'no per-module parameter table found in {path}')
    return counts


def build_meta(config, cfg_options=None):
    """``(cfg, model)`` with the model built on the meta device."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    return cfg, model


def param_rows(model, reference):
    """Rows ``(level, dbdseg module, dbdseg params, reference module, reference params)``."""
    head = model.decode_head
    if type(head).__name__ != 'SABHead':
        raise SystemExit(f'the config\'s decode head is {type(head).__name__}, not SABHead')
    rows = [('encoder', 'backbone', n_params(model.backbone), 'pretrained_net',
             reference.get('pretrained_net'))]
    for k in range(head.num_levels):
        lv = f'level {k + 1}'
        rows.append((lv, f'blocks.{k} ({type(head.blocks[k]).__name__})', n_params(head.blocks[k]),
                     f'deconv{k + 1}', reference.get(f'deconv{k + 1}')))
        sides = n_params(head.side_convs[k]) + (
            n_params(head.depth_convs[k]) if head.use_depth else 0)
        rows.append(
            (lv, f'side_convs.{k} + depth_convs.{k}' if head.use_depth else f'side_convs.{k}',
             sides, f'classifier{k + 1}', reference.get(f'classifier{k + 1}')))
        if k < head.num_levels - 1:
            rows.append((lv, f'sabs.{k}' if head.use_sab else '(no SAB)',
                         n_params(head.sabs[k]) if head.use_sab else 0, f'sideatt{k + 1}',
                         reference.get(f'sideatt{k + 1}')))
            if not isinstance(head.skip_convs[k], torch.nn.Identity):
                rows.append((lv, f'skip_convs.{k}', n_params(head.skip_convs[k]), '-', None))
    rows.append(('fusion', 'conv_seg', n_params(head.conv_seg), 'fusion', reference.get('fusion')))
    rows.append(('fusion', 'depth_fusion', n_params(head.depth_fusion), 'fusiond',
                 reference.get('fusiond')))
    ref_head = sum(v for k, v in reference.items() if k != 'pretrained_net')
    rows.append(('total', 'decode_head', n_params(head), 'all but pretrained_net', ref_head))
    rows.append(('total', 'model', n_params(model), 'model', sum(reference.values())))
    return rows


def side_shapes(model, size):
    """Shapes of every output of the decoder for a ``1 x 3 x size x size`` input (meta device)."""
    head = model.decode_head
    was_training = head.training
    head.train()
    with torch.device('meta'), torch.no_grad():
        out = head._forward_all(model.extract_feat(torch.empty(1, 3, size, size)))
    head.train(was_training)
    rows = [('fused (defocus)', tuple(out['fused'].shape))]
    rows += [(f'side{k + 1} (defocus)', tuple(s.shape)) for k, s in enumerate(out['sides'])]
    if out['fused_depth'] is not None:
        rows.append(('fused (depth)', tuple(out['fused_depth'].shape)))
        rows += [(f'd{k + 1} (depth)', tuple(d.shape)) for k, d in enumerate(out['depth_sides'])]
    return rows


def format_table(rows, markdown=False):
    """Text (or Markdown) table of :func:`param_rows`."""
    lines = []
    if markdown:
        lines.append('| level | dbdseg module | dbdseg params | reference module | '
                     'reference params | equal |')
        lines.append('| --- | --- | ---: | --- | ---: | --- |')
    else:
        lines.append(f'{"level":<8} {"dbdseg module":<40} {"params":>12}  {"reference":<24} '
                     f'{"params":>12}  equal')
    for level, name, ours, ref_name, ref in rows:
        eq = '-' if ref is None else ('yes' if ours == ref else 'NO')
        ref_s = '-' if ref is None else f'{ref:,}'
        if markdown:
            lines.append(f'| {level} | `{name}` | {ours:,} | `{ref_name}` | {ref_s} | {eq} |')
        else:
            lines.append(f'{level:<8} {name:<40} {ours:>12,}  {ref_name:<24} {ref_s:>12}  {eq}')
    return '\n'.join(lines)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='DD per-level parameter table and side shapes')
    parser.add_argument('config', nargs='?', default=str(DEFAULT_CONFIG), help='DD config file')
    parser.add_argument(
        '--reference',
        default=None,
        help='resskspp, vggskspp, or a key-list file with a parameter-count table '
        '(default: from the backbone type)')
    parser.add_argument('--size', type=int, default=320, help='input size for the shapes')
    parser.add_argument('--markdown', action='store_true', help='Markdown tables')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override settings in the config')
    return parser.parse_args(argv)


def main(argv=None):
    """Print both tables; returns the param rows and the shape rows."""
    args = parse_args(argv)
    cfg, model = build_meta(args.config, args.cfg_options)
    ref = args.reference or ('vggskspp' if cfg.model.backbone.type == 'VGGWithStem' else 'resskspp')
    reference = REFERENCE[ref] if ref in REFERENCE else read_reference(ref)
    rows = param_rows(model, reference)
    shapes = side_shapes(model, args.size)
    print(f'config: {args.config}\nreference: {ref}\n')
    print(format_table(rows, args.markdown))
    print(f'\nside outputs for a 1 x 3 x {args.size} x {args.size} input:')
    for name, shape in shapes:
        print(f'  {name:<18} {list(shape)}')
    return rows, shapes


if __name__ == '__main__':
    main()
