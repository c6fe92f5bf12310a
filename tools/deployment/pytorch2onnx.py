"""Export a dbdseg model to ONNX (image -> probability map, sigmoid included) and check it.

The graph takes the image resized to the network input, (N, 3, H, W) float32 BGR 0-255, and
returns the in-focus / salient probability (N, 1, H, W) in [0, 1]; normalisation, channel order,
the network, the resize of the logits and the sigmoid are inside
(:mod:`dbdseg.apis.onnx_export`). After the export, onnxruntime is run on ``--check-image`` (or a
test pattern) resized to ``--shape`` and compared with PyTorch: the largest absolute difference is
printed, and a difference over ``--tolerance`` is an error.

Usage::

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT|none --shape H W [--dynamic]
        [--out FILE.onnx] [--check-image IMG] [--tolerance 1e-4] [--opset N] [--device cpu]
        [--overwrite] [--unsafe-load-trusted-checkpoint] [--cfg-options k=v ...]

``--out`` defaults to the checkpoint's path with ``.onnx`` (``<config stem>.onnx`` for ``none``);
an existing file is replaced only with ``--overwrite``. Needs ``pip install onnx onnxruntime
onnxscript``.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:  # configs may import `projects.*`
    sys.path.insert(0, REPO_ROOT)

PROG = 'tools/deployment/pytorch2onnx.py'


def parse_args(argv=None):
    from dbdseg.cli._common import DictAction
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" (untrained weights)')
    parser.add_argument(
        '--shape',
        nargs=2,
        type=int,
        required=True,
        metavar=('H', 'W'),
        help='network input size of the exported graph (e.g. the config\'s crop size)')
    parser.add_argument(
        '--dynamic', action='store_true', help='batch size, height and width as dynamic axes')
    parser.add_argument('--out', help='output .onnx file (default: CHECKPOINT with .onnx)')
    parser.add_argument('--check-image', help='image compared between onnxruntime and PyTorch')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest accepted probability difference (default: 1e-4)')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: the exporter\'s)')
    parser.add_argument('--device', default='cpu', help='device of the export (default: cpu)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False; only for a file you trust')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='config overrides (key=value)')
    return parser.parse_args(argv)


def _fail(msg):
    raise SystemExit(f'{PROG}: error: {msg}')


def main(argv=None) -> float:
    """Export and check; returns the measured largest difference (``nan`` without onnxruntime)."""
    args = parse_args(argv)
    h, w = args.shape
    if h <= 0 or w <= 0:
        _fail(f'--shape must be positive, got {h} {w}')
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    out = args.out or (osp.splitext(ckpt)[0] if ckpt and '://' not in ckpt else osp.splitext(
        osp.basename(args.config))[0]) + '.onnx'
    if osp.exists(out) and not args.overwrite:
        _fail(f'{out} exists; pass --overwrite to replace it, or choose another --out')
    from dbdseg.apis import init_model, read_image
    from dbdseg.apis.onnx_export import check_onnx, export_onnx
    from dbdseg.utils import register_all_modules
    from dbdseg.utils.checkpoint import install_checkpoint_guard, trust_checkpoint
    register_all_modules()
    install_checkpoint_guard()
    if args.unsafe_load_trusted_checkpoint and ckpt:
        trust_checkpoint(ckpt)
    try:
        model = init_model(args.config, ckpt, device=args.device, cfg_options=args.cfg_options)
        export_onnx(model, out, (h, w), dynamic=args.dynamic, opset=args.opset)
    except (FileNotFoundError, ImportError, RuntimeError, ValueError) as e:
        _fail(str(e))
    print(f'{out}: input image (N, 3, {h}, {w}) BGR 0-255 -> prob (N, 1, {h}, {w})'
          f'{" (dynamic N, H, W)" if args.dynamic else ""}')
    import cv2
    import numpy as np
    if args.check_image:
        img = read_image(args.check_image)
        source = args.check_image
    else:
        yy, xx = np.mgrid[0:256, 0:256]
        img = np.dstack([(xx + yy) % 256, (xx * 3) % 256, (yy * 5) % 256]).astype(np.uint8)
        source = 'a test pattern'
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    try:
        diff = check_onnx(out, model, img)
    except ImportError as e:
        print(f'{PROG}: not checked: {e}', file=sys.stderr)
        return float('nan')
    print(f'onnxruntime vs PyTorch on {source} at {h}x{w}: max |difference| = {diff:.3g}')
    if not diff <= args.tolerance:
        _fail(f'onnxruntime differs from PyTorch by {diff:.3g} > --tolerance {args.tolerance}')
    return diff


if __name__ == '__main__':
    main()
