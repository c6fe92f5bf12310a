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
