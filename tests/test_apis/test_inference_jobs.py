"""dbdseg.apis.inference_jobs: the images of a folder-to-folder inference run and their outputs."""
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
