"""tools/infer.py for real workloads (issue 20 item 10, issue 18 item 13): batches, --no-overlay,
--save-mask, --recursive, --max-side, videos, --overwrite, --save-depth, a fast --help."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py

infer_tool = tiny.load_tool('infer')
REPO = tiny.REPO_ROOT
DD_CONFIG = osp.join(REPO, 'configs', 'depth_distillation', 'cpu_experiment',
                     'dd_r18_1xb8-300it_synthetic-defocus-160x160.py')


@pytest.fixture(scope='module')
def model_files(tiny_project, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp('workload_ckpt') / 'tiny.pth'
    tiny.save_untrained_checkpoint(tiny_project['config'], ckpt)
    return tiny_project['config'], str(ckpt)


def _visible(folder):
    return sorted(n for n in os.listdir(folder) if not n.startswith('.'))


def _read(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


def _photos(folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, (h, w)) in enumerate(sizes.items()):
        cv2.imwrite(str(folder / name), tiny.make_image(h, w, seed=i + 20))
    return folder


def test_batch_size_gives_the_maps_of_single_images(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {f'p{i}.png': (20 + 3 * i, 30 - 2 * i) for i in range(5)})
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(tmp_path / 'one')])
    report = infer_tool.execute(
        [config, ckpt,
         str(folder), '--out-dir',
         str(tmp_path / 'three'), '--batch-size', '3'])
    assert len(report.written) == 10
    for i in range(5):
        one = _read(tmp_path / 'one' / f'p{i}.png').astype(int)
        three = _read(tmp_path / 'three' / f'p{i}.png').astype(int)
        assert one.shape == (20 + 3 * i, 30 - 2 * i)
        assert np.abs(one - three).max() <= 1


def test_batch_with_a_bad_image_skips_only_that_one(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'a.png': (20, 30), 'c.png': (22, 28)})
    (folder / 'b.png').write_bytes(b'not a png')
    report = infer_tool.execute([
        config, ckpt,
        str(folder), '--out-dir',
        str(tmp_path / 'o'), '--batch-size', '4', '--skip-bad'
    ])
    assert [osp.basename(p) for p, _ in report.skipped] == ['b.png']
    assert _visible(tmp_path / 'o') == ['a.png', 'a_overlay.jpg', 'c.png', 'c_overlay.jpg']


def test_no_overlay_and_save_mask(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'a.png': (24, 36)})
    out = tmp_path / 'o'
    infer_tool.execute([
        config, ckpt,
        str(folder), '--out-dir',
        str(out), '--no-overlay', '--save-mask', '--threshold', '0.45'
    ])
    assert _visible(out) == ['a.png', 'a_mask.png']
    prob = _read(out / 'a.png').astype(float) / 255
    mask = _read(out / 'a_mask.png')
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    # the mask thresholds the float map; the 8-bit map can round across 0.45 by < 1/510
    agree = (mask == 255) == (prob > 0.45)
    assert agree.mean() > 0.97
    out2 = tmp_path / 'o2'
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out2), '--save-mask', '0.0'])
    assert _visible(out2) == ['a.png', 'a_mask.png', 'a_overlay.jpg']
    assert (_read(out2 / 'a_mask.png') == 255).mean() == (_read(out2 / 'a.png') > 0).mean()
    with pytest.raises(SystemExit):
        infer_tool.parse_args([config, ckpt, 'x', '--out-dir', 'o', '--save-mask', '2'])


def test_recursive_keeps_the_sub_folders(model_files, tmp_path):
    config, ckpt = model_files
    root = _photos(tmp_path / 'in', {'top.png': (20, 30)})
    _photos(root / 'day1', {'IMG_1.jpg': (21, 31)})
    _photos(root / 'day2' / 'late', {'IMG_1.jpg': (22, 32)})  # same name, other folder
    _photos(root / '.cache', {'thumb.png': (8, 8)})  # hidden folder: not searched
    out = tmp_path / 'out'
    infer_tool.execute([config, ckpt, str(root), '--out-dir', str(out), '--recursive'])
    assert _visible(out) == ['day1', 'day2', 'top.png', 'top_overlay.jpg']
    assert _visible(out / 'day1') == ['IMG_1.png', 'IMG_1_overlay.jpg']
    assert _read(out / 'day2' / 'late' / 'IMG_1.png').shape == (22, 32)
    # a second run into the same folder knows its outputs; without -r only the top level
    report = infer_tool.execute([config, ckpt, str(root), '--out-dir', str(out), '-r'])
    assert len(report.written) == 6
    flat = tmp_path / 'flat'
    infer_tool.execute([config, ckpt, str(root), '--out-dir', str(flat)])
    assert _visible(flat) == ['top.png', 'top_overlay.jpg']
    # the input folder as output folder, recursively, twice: outputs are never inputs
    here = _photos(tmp_path / 'here', {'a.jpg': (20, 30)})
    _photos(here / 'sub', {'b.jpg': (21, 30)})
    infer_tool.execute([config, ckpt, str(here), '--out-dir', str(here), '-r'])
    report = infer_tool.execute([config, ckpt, str(here), '--out-dir', str(here), '-r'])
    assert report.inputs == 2 and len(report.written) == 4
    assert _visible(here / 'sub') == ['b.jpg', 'b.png', 'b_overlay.jpg']


def test_max_side_predicts_at_a_larger_size(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'wide.png': (90, 160)})
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(tmp_path / 'a')])
    infer_tool.execute(
        [config, ckpt,
         str(folder), '--out-dir',
         str(tmp_path / 'b'), '--max-side', '128'])
    a, b = _read(tmp_path / 'a' / 'wide.png'), _read(tmp_path / 'b' / 'wide.png')
    assert a.shape == b.shape == (90, 160)
    assert np.abs(a.astype(int) - b.astype(int)).max() > 0
    with pytest.raises(SystemExit, match='--max-side must be >= --size-divisor'):
        infer_tool.execute(
            [config, ckpt,
             str(folder), '--out-dir',
             str(tmp_path / 'c'), '--max-side', '16'])


def _write_video(path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()


def _decode(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def test_video_writes_map_videos_and_exact_frames(model_files, tmp_path):
    config, ckpt = model_files
    clip = tmp_path / 'clip.avi'
    _write_video(clip, [tiny.make_image(32, 48, seed=s) for s in range(5)])
    out = tmp_path / 'out'
    report = infer_tool.execute([
        config, ckpt,
        str(clip), '--out-dir',
        str(out), '--video-output', 'both', '--batch-size', '2', '--save-mask'
    ])
    assert report.frames == 5
    assert _visible(out) == ['clip', 'clip_map.mp4', 'clip_mask.mp4', 'clip_overlay.mp4']
    assert _visible(out / 'clip') == sorted(f'{i:06d}{s}' for i in range(5)
                                            for s in ('.png', '_overlay.jpg', '_mask.png'))
    maps = _decode(out / 'clip_map.mp4')
    assert len(maps) == 5 and maps[0].shape == (32, 48, 3)
    # the frame files are the maps of the decoded frames, predicted as images
    decoded = _decode(clip)
    single = tmp_path / 'single'
    single.mkdir()
    cv2.imwrite(str(single / 'f3.png'), decoded[3])
    infer_tool.execute([config, ckpt, str(single / 'f3.png'), '--out-dir', str(tmp_path / 's')])
    np.testing.assert_array_equal(
        _read(out / 'clip' / '000003.png'), _read(tmp_path / 's' / 'f3.png'))
    # the map video holds the maps up to the codec's loss
    diff = np.abs(maps[3][:, :, 0].astype(int) - _read(out / 'clip' / '000003.png').astype(int))
    assert diff.mean() < 8


def test_videos_in_folders_only_with_videos_and_bad_videos(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'a.png': (20, 30)})
    _write_video(folder / 'v.avi', [tiny.make_image(16, 24, seed=s) for s in range(2)])
    (folder / 'broken.mp4').write_bytes(b'not a video at all')
    out = tmp_path / 'o'
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out)])
    assert _visible(out) == ['a.png', 'a_overlay.jpg']
    with pytest.raises(SystemExit, match='broken.mp4'):
        infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out), '--videos'])
    report = infer_tool.execute([
        config, ckpt,
        str(folder), '--out-dir',
        str(out), '--videos', '--skip-bad', '--no-overlay'
    ])
    assert [osp.basename(p) for p, _ in report.skipped] == ['broken.mp4']
    assert 'v_map.mp4' in _visible(out) and not [n for n in _visible(out) if 'broken' in n]
    assert not [n for n in os.listdir(out) if n.endswith('.staging')]


def test_overwrite_is_needed_to_replace_files_no_run_wrote(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'a.png': (20, 30)})
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a.png').write_bytes(b'the user\'s own file')
    with pytest.raises(SystemExit, match=r'a\.png.*--overwrite'):
        infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out)])
    assert (out / 'a.png').read_bytes() == b'the user\'s own file'
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out), '--overwrite'])
    assert _read(out / 'a.png').shape == (20, 30)
    # now it is a recorded output: a rerun replaces it without --overwrite
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out)])


def test_save_depth(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photos(tmp_path / 'in', {'a.png': (45, 70)})
    with pytest.raises(SystemExit, match='no depth output'):
        infer_tool.execute(
            [config, ckpt,
             str(folder), '--out-dir',
             str(tmp_path / 'x'), '--save-depth'])
    import torch

    from dbdseg.apis import inference_model, init_model
    opts = {
        'model.backbone.base_channels': 8,
        'model.backbone.stem_channels': 8,
        'model.decode_head.in_channels': (8, 8, 16, 32, 64)
    }
    model = init_model(DD_CONFIG, None, cfg_options=opts)
    ckpt_dd = tmp_path / 'dd.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(ckpt_dd))
    out = tmp_path / 'dd'
    infer_tool.execute([
        DD_CONFIG,
        str(ckpt_dd),
        str(folder), '--out-dir',
        str(out), '--save-depth', '--no-overlay', '--cfg-options'
    ] + [f'{k}={v}'.replace(' ', '') for k, v in opts.items()])
    assert _visible(out) == ['a.png', 'a_depth.png']
    depth = _read(out / 'a_depth.png')
    assert depth.dtype == np.uint16 and depth.shape == (45, 70)
    # the written values are the model's depth output, clipped to [0, 1] and scaled to 16 bits
    res = inference_model(model, cv2.imread(str(folder / 'a.png')), with_depth=True)
    expected = np.rint(np.clip(res.pred_depth.data[0].numpy(), 0, 1) * 65535)
    assert np.abs(depth.astype(int) - expected.astype(int)).max() <= 2


def test_help_imports_no_deep_learning_stack():
    """``--help`` parses without importing torch / mmengine / mmseg (it answered in 9.5 s before
    issue 20, as the tool imported mmseg before parsing)."""
    code = ('import sys, runpy; sys.argv = ["tools/infer.py", "--help"]\n'
            'try:\n    runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'except SystemExit:\n    pass\n'
            'bad = [m for m in ("torch", "mmengine", "mmseg", "mmcv", "cv2") if m in sys.modules]\n'
            'assert not bad, bad\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '--batch-size' in proc.stdout and '--max-side' in proc.stdout


def test_cli_default_pixel_limit_is_the_package_one():
    from dbdseg.apis.inference import DEFAULT_MAX_PIXELS
    from dbdseg.cli import infer
    assert infer.DEFAULT_MAX_PIXELS == DEFAULT_MAX_PIXELS
