"""A2S pseudo labels ``G = MF(CRF(sigmoid(sign * Theta)))`` (Zhou et al., TCSVT 2023, Eq. 6).

Writes ``OUT/<stem>.png`` (uint8, 255 = salient, 0 = background, at each image's size) for image
files and folders; the algorithm (cues, CRF workers, restartable atomic writes) is
:func:`dbdseg.apis.pseudo_label.generate_pseudo_labels`. ``--cue centre`` and ``--cue ft`` run no
network (CONFIG and CKPT may then be ``none``); with ``--cue model`` and CKPT ``none`` the stage-1
network has random weights. Restartable: finished outputs are kept; delete OUT to regenerate.

Example (MSRA-B train + val, the A2S training set)::

    python tools/a2s/generate_pseudo_labels.py \\
        configs/a2s/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320.py \\
        work_dirs/a2s-stage1_r50-mocov2_1xb8-20e_msra-b-320x320/epoch_20.pth \\
        data/msra_b/train/images data/msra_b/val/images --out data/msra_b/a2s_pseudo
"""
import argparse
import sys

from mmengine.config import DictAction

from dbdseg.apis.pseudo_label import CUES, UNARIES, PseudoLabelError, generate_pseudo_labels
from dbdseg.utils.fileio import IMG_EXTENSIONS

PROG = 'tools/a2s/generate_pseudo_labels.py'


def _fail(msg: str):
    raise SystemExit(f'{PROG}: error: {msg}')


def _number(name, cast, ok, what):
    """An argparse ``type``: ``cast(text)``, rejected unless ``ok`` ("must be {what}")."""

    def parse(text):
        value = cast(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f'must be {what}, got {text}')
        return value

    parse.__name__ = name  # argparse names it in "invalid <name> value"
    return parse


_positive_int = _number('_positive_int', int, lambda v: v >= 1, '>= 1')
_odd_size = _number('_odd_size', int, lambda v: v >= 1 and v % 2 == 1, 'a positive odd integer')
_non_negative_int = _number('_non_negative_int', int, lambda v: v >= 0, '>= 0')
_open_unit = _number('_open_unit', float, lambda v: 0.5 < v < 1.0, 'in (0.5, 1)')
_positive_float = _number('_positive_float', float, lambda v: v > 0, '> 0')

#: ``--help`` text of each option (kept apart so that ``parse_args`` stays one line per option).
HELP = dict(
    config='stage-1 config, or "none" with --cue centre/ft',
    checkpoint='stage-1 checkpoint, or "none" (random weights with --cue model; CONFIG and CKPT '
    'are not used by --cue centre/ft)',
    images=f'image files or folders (folders: {" ".join(IMG_EXTENSIONS)})',
    cue='soft map source: model (stage-1 network, default), centre (centre-prior Gaussian) or '
    'ft (frequency-tuned saliency)',
    workers='CRF worker processes (default 2; 0 = run the CRF in this process)',
    skip_bad='skip unreadable images (listed at the end) instead of stopping',
    no_crf='no CRF: threshold the unary at 0.5, then the median filter',
    save_soft='also write the soft map before the CRF as DIR/<stem>.png (p * 255)',
    unary='CRF unary: soft (the map itself, paper Eq. 6; default) or hard (min-max, > 0.5, then '
    '--gt-prob; the reference code)',
    gt_prob='foreground probability of a --unary hard foreground pixel (default 0.7)',
    centre_sigma='--cue centre: Gaussian std as a fraction of width/height (default 0.25)',
    max_size='--cue model: run the network on a copy whose longer side is at most this many '
    'pixels (the map is resized back; the CRF always runs at full size); 0 = the image\'s own '
    'resolution (default)',
    crf_iterations='mean-field iterations (default 10)',
    median_size='median filter size, odd; 1 = none (default 7)',
    cfg_options='override settings of CONFIG (key=value pairs)')
#: Options passed on to generate_pseudo_labels / build_cue under their own (``dest``) names.
API_ARGS = ('cue', 'soft_dir', 'unary', 'gt_prob', 'crf', 'crf_iterations', 'median_size',
            'workers', 'skip_bad', 'progress')
CUE_ARGS = ('centre_sigma', 'config', 'checkpoint', 'device', 'cfg_options', 'max_size')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='A2S pseudo labels: stage-1 activation (or a classical cue) -> dense CRF -> '
        'median filter -> OUT/<stem>.png (0/255)')
    add = parser.add_argument
    add('config', help=HELP['config'])
    add('checkpoint', help=HELP['checkpoint'])
    add('images', nargs='+', metavar='IMAGES', help=HELP['images'])
    add('--out', required=True, help='output folder of <stem>.png labels')
    add('--cue', choices=CUES, default='model', help=HELP['cue'])
    add('--workers', type=_non_negative_int, default=2, help=HELP['workers'])
    add('--skip-bad', action='store_true', help=HELP['skip_bad'])
    add('--no-crf', dest='crf', action='store_false', help=HELP['no_crf'])
    add('--save-soft', dest='soft_dir', default=None, metavar='DIR', help=HELP['save_soft'])
    add('--unary', choices=UNARIES, default='soft', help=HELP['unary'])
    add('--gt-prob', type=_open_unit, default=0.7, help=HELP['gt_prob'])
    add('--crf-iterations', type=_positive_int, default=10, help=HELP['crf_iterations'])
    add('--median-size', type=_odd_size, default=7, help=HELP['median_size'])
    add('--centre-sigma', type=_positive_float, default=0.25, help=HELP['centre_sigma'])
    add('--device', default='cpu', help='--cue model: cpu, cuda or cuda:N')
    add('--max-size', type=_non_negative_int, default=0, help=HELP['max_size'])
    add('--cfg-options', nargs='+', action=DictAction, help=HELP['cfg_options'])
    add('--no-progress', dest='progress', action='store_false', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    """Generate pseudo labels; ``argv`` defaults to ``sys.argv[1:]``.

    Returns:
        dict: what :func:`dbdseg.apis.pseudo_label.generate_pseudo_labels` returns (``written``,
        ``finished``, ``skipped``).

    Raises:
        SystemExit: bad arguments, or a :class:`~dbdseg.apis.pseudo_label.PseudoLabelError` (a
            missing file, an unreadable image without ``--skip-bad``, an output that cannot be
            written...; the message names the file).
    """
    args = parse_args(argv)
    if args.cue == 'model' and args.config.lower() == 'none':
        _fail('--cue model needs a stage-1 CONFIG (CONFIG may be "none" only with --cue centre '
              'or ft)')
    if args.cue != 'model' and (args.config.lower() != 'none' or args.checkpoint.lower() != 'none'):
        print(
            f'{PROG}: note: --cue {args.cue} runs no network; CONFIG and CKPT are not used',
            flush=True)
    if args.cue == 'model':
        from dbdseg.utils import register_all_modules
        register_all_modules()
    if args.checkpoint.lower() == 'none':
        args.checkpoint = None
    kwargs = {k: getattr(args, k) for k in API_ARGS}
    cue_cfg = {k: getattr(args, k) for k in CUE_ARGS}
    try:
        return generate_pseudo_labels(args.images, args.out, cue_cfg=cue_cfg, prog=PROG, **kwargs)
    except PseudoLabelError as exc:
        _fail(str(exc))


if __name__ == '__main__':
    main(sys.argv[1:])
