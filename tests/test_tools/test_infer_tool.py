"""tools/infer.py: probability PNG + overlay JPEG per image, EXIF, errors naming files."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

infer_tool = tiny.load_tool('infer')


@pytest.fixture(scope='module')
def model_files(tiny_project, tmp_path_factory):
    ckpt = tmp_path_factory.mktemp('infer_ckpt') / 'tiny.pth'
    tiny.save_untrained_checkpoint(tiny_project['config'], ckpt)
    return tiny_project['config'], str(ckpt)


def _visible(folder):
    """The files of ``folder`` but hidden ones (infer's record of its outputs)."""
    return sorted(n for n in os.listdir(folder) if not n.startswith('.'))


def _photo_folder(root):
    """A folder with a PNG, a JPEG with EXIF orientation 6, a non-image file and a sub-folder."""
    folder = root / 'photos'
    folder.mkdir()
    cv2.imwrite(str(folder / 'garden.png'), tiny.make_image(23, 31, seed=7))
    rgb = tiny.make_image(18, 30, seed=8)[:, :, ::-1]
    im = Image.fromarray(np.ascontiguousarray(rgb))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(str(folder / 'portrait.jpg'), exif=exif)
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'sub').mkdir()
    return folder


def test_infer_writes_maps_and_overlays(model_files, tmp_path):
    config, ckpt = model_files
    folder = _photo_folder(tmp_path)
    single = tmp_path / 'single.bmp'
    cv2.imwrite(str(single), tiny.make_image(15, 12, seed=9))
    out_dir = tmp_path / 'out' / 'nested'
    report = infer_tool.execute([
        config, ckpt,
        str(folder),
        str(single), '--out-dir',
        str(out_dir), '--threshold', '0.4', '--overlay-alpha', '0.6'
    ])
    expected_sizes = {'garden': (23, 31), 'portrait': (30, 18), 'single': (15, 12)}
    assert _visible(out_dir) == sorted([f'{s}.png' for s in expected_sizes] +
                                       [f'{s}_overlay.jpg' for s in expected_sizes])
    assert len(report.written) == 6
    for stem, (h, w) in expected_sizes.items():
        prob = cv2.imread(str(out_dir / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert prob.dtype == np.uint8 and prob.shape == (h, w), stem
        overlay = cv2.imread(str(out_dir / f'{stem}_overlay.jpg'))
        assert overlay.shape == (h, w, 3), stem


def test_infer_none_checkpoint(model_files, tmp_path):
    config, _ = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(10, 20))
    infer_tool.execute([config, 'none', str(img), '--out-dir', str(tmp_path / 'o')])
    assert (tmp_path / 'o' / 'a.png').is_file() and (tmp_path / 'o' / 'a_overlay.jpg').is_file()


def test_infer_unreadable_image_names_it(model_files, tmp_path):
    config, ckpt = model_files
    bad = tmp_path / 'corrupt_photo.jpg'
    bad.write_bytes(b'\xff\xd8 definitely not a jpeg')
    with pytest.raises(SystemExit, match='corrupt_photo.jpg'):
        infer_tool.execute([config, ckpt, str(bad), '--out-dir', str(tmp_path / 'o')])


def test_infer_missing_input_names_it(model_files, tmp_path):
    config, ckpt = model_files
    with pytest.raises(SystemExit, match='no_such_photo.jpg'):
        infer_tool.execute(
            [config, ckpt,
             str(tmp_path / 'no_such_photo.jpg'), '--out-dir',
             str(tmp_path / 'o')])


def test_infer_missing_checkpoint_names_it(model_files, tmp_path):
    config, _ = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(10, 20))
    with pytest.raises(SystemExit, match='lost_weights.pth'):
        infer_tool.execute([
            config,
            str(tmp_path / 'lost_weights.pth'),
            str(img), '--out-dir',
            str(tmp_path / 'o')
        ])


def test_infer_stem_collision_names_both(model_files, tmp_path):
    config, ckpt = model_files
    for sub, suffix in (('day1', '.png'), ('day2', '.jpg')):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / f'IMG_0001{suffix}'), tiny.make_image(8, 8))
    with pytest.raises(SystemExit) as e:
        infer_tool.execute([
            config, ckpt,
            str(tmp_path / 'day1'),
            str(tmp_path / 'day2'), '--out-dir',
            str(tmp_path / 'o')
        ])
    msg = str(e.value)
    assert 'day1' in msg and 'day2' in msg and 'IMG_0001' in msg


def test_infer_refuses_to_overwrite_inputs(model_files, tmp_path):
    config, ckpt = model_files
    img = tmp_path / 'shot.png'
    cv2.imwrite(str(img), tiny.make_image(8, 8))
    with pytest.raises(SystemExit, match='overwrite'):
        infer_tool.execute([config, ckpt, str(img), '--out-dir', str(tmp_path)])


def test_infer_unwritable_out_dir(model_files, tmp_path):
    config, ckpt = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(8, 8))
    blocker = tmp_path / 'plain_file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match='plain_file'):
        infer_tool.execute([config, ckpt, str(img), '--out-dir', str(blocker / 'out')])


def test_infer_empty_folder_and_bad_threshold(model_files, tmp_path):
    config, ckpt = model_files
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no images'):
        infer_tool.execute(
            [config, ckpt, str(tmp_path / 'empty'), '--out-dir',
             str(tmp_path / 'o')])
    with pytest.raises(SystemExit):
        infer_tool.parse_args([config, ckpt, 'x', '--out-dir', 'o', '--threshold', '1.5'])


# --- issue 17: hidden files (item 13), out-dir = input folder (item 14) --------------------------
def test_hidden_files_are_never_read_as_photos(model_files, tmp_path, capsys):
    """One rule for folders and named files: a hidden file (``.hidden.jpg``, macOS ``._*``) is
    not an image. Named on its own it is skipped with a note naming it, never predicted."""
    config, ckpt = model_files
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a.png'), tiny.make_image(10, 12, seed=1))
    cv2.imwrite(str(folder / '.hidden.jpg'), tiny.make_image(10, 12, seed=2))  # a real image
    out = tmp_path / 'out'
    infer_tool.execute([config, ckpt, str(folder), '--out-dir', str(out)])
    assert _visible(out) == ['a.png', 'a_overlay.jpg']
    other = tmp_path / 'b.png'
    cv2.imwrite(str(other), tiny.make_image(10, 12, seed=3))
    out2 = tmp_path / 'out2'
    infer_tool.execute(
        [config, ckpt,
         str(folder / '.hidden.jpg'),
         str(other), '--out-dir',
         str(out2)])
    assert _visible(out2) == ['b.png', 'b_overlay.jpg']
    assert not [n for n in os.listdir(out2) if 'hidden' in n]
    err = capsys.readouterr().err
    assert '.hidden.jpg' in err and 'hidden' in err
    with pytest.raises(SystemExit, match='no images'):
        infer_tool.execute([config, ckpt, str(folder / '.hidden.jpg'), '--out-dir', str(out2)])


def test_out_dir_equal_to_the_input_folder_runs_again(model_files, tmp_path):
    """A second run into the input folder predicts the same photos again: the maps and
    overlays of the first run are its own outputs, not photos (no name collision)."""
    config, ckpt = model_files
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.jpg'), tiny.make_image(14, 18, seed=1))
    cv2.imwrite(str(photos / 'b.bmp'), tiny.make_image(12, 16, seed=2))
    infer_tool.execute([config, ckpt, str(photos), '--out-dir', str(photos)])
    expected = ['a.jpg', 'a.png', 'a_overlay.jpg', 'b.bmp', 'b.png', 'b_overlay.jpg']
    assert _visible(photos) == expected
    first = (photos / 'a.png').read_bytes()
    report = infer_tool.execute([config, ckpt, str(photos), '--out-dir', str(photos)])
    assert len(report.written) == 4 and _visible(photos) == expected
    assert (photos / 'a.png').read_bytes() == first  # same photo, same map
    assert not report.skipped


def test_a_photo_replacing_an_earlier_output_is_not_overwritten(model_files, tmp_path):
    """An output of an earlier run that the user replaced by a photo of their own is a photo
    again: the run stops on the name collision and the photo is kept."""
    config, ckpt = model_files
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.jpg'), tiny.make_image(14, 18, seed=1))
    infer_tool.execute([config, ckpt, str(photos), '--out-dir', str(photos)])
    cv2.imwrite(str(photos / 'a.png'), tiny.make_image(30, 30, seed=5))  # the user's own photo
    mine = (photos / 'a.png').read_bytes()
    with pytest.raises(SystemExit, match='same name "a"'):
        infer_tool.execute([config, ckpt, str(photos), '--out-dir', str(photos)])
    assert (photos / 'a.png').read_bytes() == mine


def test_overwrite_refusal_names_the_input_it_would_replace(model_files, tmp_path):
    """``a.jpg``'s overlay ``a_overlay.jpg`` would replace the input ``a_overlay.jpg``: the
    message names that input (it named ``a.jpg``)."""
    config, ckpt = model_files
    photos = tmp_path / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.jpg'), tiny.make_image(8, 8, seed=1))
    cv2.imwrite(str(photos / 'a_overlay.jpg'), tiny.make_image(8, 8, seed=2))
    with pytest.raises(SystemExit) as e:
        infer_tool.execute([config, ckpt, str(photos), '--out-dir', str(photos)])
    msg = str(e.value)
    assert f'input image {photos / "a_overlay.jpg"}' in msg, msg
    assert sorted(os.listdir(photos)) == ['a.jpg', 'a_overlay.jpg']
