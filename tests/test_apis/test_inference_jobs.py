"""dbdseg.apis.inference_jobs: the images of a folder-to-folder inference run and their outputs."""
import os
import os.path as osp

import pytest

from dbdseg.apis.inference_jobs import collect_images, infer_output_paths


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'x')
    return str(path)


def test_output_paths():
    assert infer_output_paths('out', 'IMG_1') == (osp.join('out', 'IMG_1.png'),
                                                  osp.join('out', 'IMG_1_overlay.jpg'))


def test_folders_and_files_with_stems(tmp_path):
    b = _touch(tmp_path / 'in' / 'b.JPG')
    a = _touch(tmp_path / 'in' / 'a.png')
    _touch(tmp_path / 'in' / 'notes.txt')  # not an image suffix: ignored
    _touch(tmp_path / 'in' / '._a.png')  # macOS metadata (hidden): ignored
    _touch(tmp_path / 'in' / 'sub' / 'c.png')  # sub-folders are not searched
    odd = _touch(tmp_path / 'single.raw')  # a file named on its own: any suffix
    jobs = collect_images([str(tmp_path / 'in'), odd], str(tmp_path / 'out'))
    assert jobs == [(a, 'a'), (b, 'b'), (odd, 'single')]


def test_errors_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        collect_images([str(tmp_path / 'nope.jpg')], str(tmp_path / 'out'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images found in .*empty'):
        collect_images([str(tmp_path / 'empty')], str(tmp_path / 'out'))
    one = _touch(tmp_path / 'day1' / 'IMG_0001.png')
    two = _touch(tmp_path / 'day2' / 'IMG_0001.jpg')
    with pytest.raises(ValueError, match='same name "IMG_0001"') as e:
        collect_images([one, two], str(tmp_path / 'out'))
    assert one in str(e.value) and two in str(e.value)
    # <out>/<stem>.png would replace the input itself
    with pytest.raises(ValueError, match='would overwrite the input image'):
        collect_images([one], str(tmp_path / 'day1'))


# --- issue 17: hidden files named on their own (item 13), the input an output would replace and
# outputs of an earlier run in an input folder (item 14) -------------------------------------------
def test_hidden_files_named_on_their_own_are_skipped(tmp_path):
    hidden = _touch(tmp_path / '.hidden.jpg')
    apple = _touch(tmp_path / '._IMG_1.jpg')
    shown = _touch(tmp_path / 'IMG_1.jpg')
    skipped = []
    jobs = collect_images([hidden, apple, shown], str(tmp_path / 'out'), skipped=skipped)
    assert jobs == [(shown, 'IMG_1')]
    assert [p for p, _ in skipped] == [hidden, apple]
    assert all('hidden' in reason for _, reason in skipped)
    with pytest.raises(ValueError, match='no images found'):
        collect_images([hidden], str(tmp_path / 'out'))


def test_overwrite_refusal_names_the_replaced_input(tmp_path):
    a = _touch(tmp_path / 'in' / 'a.jpg')
    overlay = _touch(tmp_path / 'in' / 'a_overlay.jpg')
    with pytest.raises(ValueError) as e:
        collect_images([str(tmp_path / 'in')], str(tmp_path / 'in'))
    msg = str(e.value)
    assert f'input image {overlay}' in msg and a in msg, msg


def test_recorded_outputs_of_an_earlier_run_are_not_inputs(tmp_path):
    from dbdseg.apis.inference_jobs import InferenceOutputFolder
    photos = tmp_path / 'photos'
    a = _touch(photos / 'a.jpg')
    with InferenceOutputFolder(str(photos)) as out:
        for path in infer_output_paths(str(photos), 'a'):
            out.write(path, b'map bytes')
    assert collect_images([str(photos)], str(photos)) == [(a, 'a')]
    # named on their own they are skipped too, with a reason
    skipped = []
    png = str(photos / 'a.png')
    assert collect_images([a, png], str(photos), skipped=skipped) == [(a, 'a')]
    assert [p for p, _ in skipped] == [png] and 'earlier run' in skipped[0][1]
    # once changed by the user, a file is a photo again
    (photos / 'a.png').write_bytes(b'the user\'s own picture')
    with pytest.raises(ValueError, match='same name "a"'):
        collect_images([str(photos)], str(photos))


# --- issue 20 item 10: output kinds, sub-folders, videos, files no run wrote ----------------------
def test_job_output_paths_by_kind():
    from dbdseg.apis.inference_jobs import job_output_paths
    assert job_output_paths('out', 'a') == {
        'map': osp.join('out', 'a.png'),
        'overlay': osp.join('out', 'a_overlay.jpg')
    }
    assert job_output_paths('out', 'd1/a', ('map', 'mask', 'depth')) == {
        'map': osp.join('out', 'd1', 'a.png'),
        'mask': osp.join('out', 'd1', 'a_mask.png'),
        'depth': osp.join('out', 'd1', 'a_depth.png')
    }
    # videos: no depth video; frames go to the folder <out>/<stem>
    assert job_output_paths(
        'out', 'v', ('map', 'overlay', 'depth'), video=True, frames=True) == {
            'map': osp.join('out', 'v_map.mp4'),
            'overlay': osp.join('out', 'v_overlay.mp4'),
            'frames': osp.join('out', 'v')
        }
    with pytest.raises(KeyError):
        job_output_paths('out', 'a', ('heatmap', ))


def test_recursive_stems_are_relative_paths(tmp_path):
    top = _touch(tmp_path / 'in' / 'top.jpg')
    deep = _touch(tmp_path / 'in' / 'd1' / 'd2' / 'x.png')
    other = _touch(tmp_path / 'in' / 'd3' / 'x.png')  # same name, other folder: no clash
    _touch(tmp_path / 'in' / '.git' / 'y.png')  # hidden folder
    clip = _touch(tmp_path / 'in' / 'd1' / 'clip.MP4')
    jobs = collect_images([str(tmp_path / 'in')], str(tmp_path / 'out'), recursive=True)
    assert jobs == [(top, 'top'), (deep, 'd1/d2/x'), (other, 'd3/x')]  # top level first
    jobs = collect_images([str(tmp_path / 'in')],
                          str(tmp_path / 'out'),
                          recursive=True,
                          videos=True)
    assert (clip, 'd1/clip') in jobs and len(jobs) == 4
    assert collect_images([str(tmp_path / 'in')], str(tmp_path / 'out')) == [(top, 'top')]


def test_outputs_in_sub_folders_are_recorded_and_foreign_files_listed(tmp_path):
    from dbdseg.apis.inference_jobs import InferenceOutputFolder, foreign_outputs, recorded_outputs
    out = tmp_path / 'out'
    with InferenceOutputFolder(str(out)) as folder:
        folder.write(str(out / 'd1' / 'a.png'), b'map')
        staged = folder.staged_path(str(out / 'v_map.mp4'))
        with open(staged, 'wb') as f:  # written piece by piece, then committed
            f.write(b'video')
        folder.commit(str(out / 'v_map.mp4'))
        with pytest.raises(ValueError, match='not in the output folder'):
            folder.write(str(tmp_path / 'elsewhere.png'), b'x')
        with pytest.raises(ValueError, match='not in the output folder'):
            folder.write(str(out / '..' / 'escape.png'), b'x')
    assert (out / 'd1' / 'a.png').read_bytes() == b'map'
    assert (out / 'v_map.mp4').read_bytes() == b'video'
    assert recorded_outputs(str(out)) == {
        osp.realpath(str(out / 'd1' / 'a.png')),
        osp.realpath(str(out / 'v_map.mp4'))
    }
    assert not (tmp_path / 'escape.png').exists()
    assert [n for n in os.listdir(out) if n.endswith('.staging')] == []
    (out / 'mine.png').write_bytes(b'the user\'s')
    planned = [str(out / 'd1' / 'a.png'), str(out / 'mine.png'), str(out / 'new.png')]
    assert foreign_outputs(str(out), planned) == [str(out / 'mine.png')]
    (out / 'd1' / 'a.png').write_bytes(b'changed by the user')
    assert foreign_outputs(str(out), planned) == planned[:2]


def test_video_round_trip(tmp_path):
    import cv2
    import numpy as np

    from dbdseg.apis.inference import ImageTooLargeError
    from dbdseg.apis.inference_video import VideoMapWriter, read_video_frames, video_info
    path = str(tmp_path / 'v.mp4')
    frames = [np.full((24, 40), 40 * i, np.uint8) for i in range(4)]
    with VideoMapWriter(path, 12.0, (40, 24)) as writer:
        for f in frames:
            writer.write(f)
        with pytest.raises(ValueError, match='frame of 10 x 10'):
            writer.write(np.zeros((10, 10), np.uint8))
    info = video_info(path)
    assert (info['width'], info['height'], info['frames']) == (40, 24, 4)
    assert abs(info['fps'] - 12.0) < 1e-3
    read = list(read_video_frames(path))
    assert [i for i, _ in read] == [0, 1, 2, 3]
    for (_, got), want in zip(read, frames):
        assert got.shape == (24, 40, 3)
        assert abs(float(got.mean()) - float(want.mean())) < 4
    with pytest.raises(ImageTooLargeError, match='v.mp4'):
        next(read_video_frames(path, max_pixels=500))
    bad = tmp_path / 'bad.avi'
    bad.write_bytes(b'nothing')
    with pytest.raises(ValueError, match='bad.avi'):
        next(read_video_frames(str(bad)))
    assert cv2 is not None
