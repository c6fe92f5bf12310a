"""A local web demo: upload a photo, see its in-focus (DBD) or saliency (SOD) map.

Shows the probability map (white = in-focus / salient), the heat-map overlay with the outline of
the thresholded map, and the binary mask; a slider sets the threshold and another the overlay
weight (they redraw without running the model again). The logic is
:mod:`dbdseg.apis.inference_demo`; this file is the Gradio page around it.

Usage (needs ``pip install gradio``; the page is served on this machine only unless ``--host``
says otherwise)::

    python demo/web_demo.py CONFIG CHECKPOINT|none [--device cpu] [--max-side N]
        [--host 127.0.0.1] [--port 7860] [--unsafe-load-trusted-checkpoint]
        [--cfg-options k=v ...]

then open http://127.0.0.1:7860 in a browser.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:  # configs may import `projects.*`
    sys.path.insert(0, REPO_ROOT)

PROG = 'demo/web_demo.py'


def parse_args(argv=None):
    from dbdseg.cli._common import DictAction
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" (untrained weights)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default: cpu)')
    parser.add_argument(
        '--max-side',
        type=int,
        default=None,
        help='predict at the photo\'s aspect ratio, longer side at most N pixels '
        '(default: the config\'s test size)')
    parser.add_argument('--host', default='127.0.0.1', help='address to serve on')
    parser.add_argument('--port', type=int, default=7860, help='port (default: 7860)')
    parser.add_argument(
        '--unsafe-load-trusted-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False; only for a file you trust')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='config overrides (key=value)')
    return parser.parse_args(argv)


def build_demo(model, max_side=None, title=None):
    """The Gradio page (``gradio.Blocks``) of ``model``; ``launch()`` serves it."""
    import gradio as gr

    from dbdseg.apis.inference_demo import positive_class_name, predict_photo, render_views
    what = positive_class_name(model)

    def on_photo(image, threshold, alpha):
        if image is None:
            return None, None, None, None
        prob = predict_photo(model, image, max_side=max_side)
        views = render_views(image, prob, threshold, alpha)
        return prob, views['map'], views['overlay'], views['mask']

    def on_slider(image, prob, threshold, alpha):
        if image is None or prob is None or prob.shape != image.shape[:2]:
            return None, None, None
        views = render_views(image, prob, threshold, alpha)
        return views['map'], views['overlay'], views['mask']

    with gr.Blocks(title=title or 'dbdseg demo') as demo:
        gr.Markdown(f'## {title or "dbdseg"}\nUpload a photo: the map shows the probability of '
                    f'**{what}** (white = {what}); the overlay colours it (red = {what}) and '
                    'outlines the mask at the threshold.')
        prob = gr.State(None)
        with gr.Row():
            photo = gr.Image(type='numpy', image_mode='RGB', label='photo', elem_id='photo')
            prob_map = gr.Image(
                type='numpy',
                label=f'{what} probability',
                elem_id='map',
                format='png',
                interactive=False)
        with gr.Row():
            overlay = gr.Image(
                type='numpy', label='overlay', elem_id='overlay', interactive=False, format='png')
            mask = gr.Image(
                type='numpy',
                label='mask (probability > threshold)',
                elem_id='mask',
                format='png',
                interactive=False)
        with gr.Row():
            threshold = gr.Slider(
                0.0, 1.0, value=0.5, step=0.01, label='threshold', elem_id='threshold')
            alpha = gr.Slider(
                0.0, 1.0, value=0.5, step=0.05, label='overlay weight', elem_id='alpha')
        photo.change(on_photo, [photo, threshold, alpha], [prob, prob_map, overlay, mask])
        for slider in (threshold, alpha):
            slider.change(on_slider, [photo, prob, threshold, alpha], [prob_map, overlay, mask])
    return demo


def main(argv=None):
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit(f'{PROG}: error: the web demo needs Gradio: pip install gradio')
    from dbdseg.apis import init_model
    from dbdseg.utils import register_all_modules
    from dbdseg.utils.checkpoint import install_checkpoint_guard, trust_checkpoint
    register_all_modules()
    install_checkpoint_guard()
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    if args.unsafe_load_trusted_checkpoint and ckpt:
        trust_checkpoint(ckpt)
    try:
        model = init_model(args.config, ckpt, device=args.device, cfg_options=args.cfg_options)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        raise SystemExit(f'{PROG}: error: {e}')
    title = f'dbdseg: {osp.splitext(osp.basename(args.config))[0]}'
    build_demo(
        model, max_side=args.max_side, title=title).launch(
            server_name=args.host, server_port=args.port)


if __name__ == '__main__':
    main()
