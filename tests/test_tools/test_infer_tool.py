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
    written = infer_tool.main([
        config, ckpt,
        str(folder),
        str(single), '--out-dir',
        str(out_dir), '--threshold', '0.4', '--overlay-alpha', '0.6'
    ])
    expected_sizes = {'garden': (23, 31), 'portrait': (30, 18), 'single': (15, 12)}
    assert sorted(os.listdir(out_dir)) == sorted([f'{s}.png' for s in expected_sizes] +
                                                 [f'{s}_overlay.jpg' for s in expected_sizes])
    assert len(written) == 6
    for stem, (h, w) in expected_sizes.items():
        prob = cv2.imread(str(out_dir / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert prob.dtype == np.uint8 and prob.shape == (h, w), stem
        overlay = cv2.imread(str(out_dir / f'{stem}_overlay.jpg'))
        assert overlay.shape == (h, w, 3), stem


def test_infer_none_checkpoint(model_files, tmp_path):
    config, _ = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(10, 20))
    infer_tool.main([config, 'none', str(img), '--out-dir', str(tmp_path / 'o')])
    assert (tmp_path / 'o' / 'a.png').is_file() and (tmp_path / 'o' / 'a_overlay.jpg').is_file()


def test_infer_unreadable_image_names_it(model_files, tmp_path):
    config, ckpt = model_files
    bad = tmp_path / 'corrupt_photo.jpg'
    bad.write_bytes(b'\xff\xd8 definitely not a jpeg')
    with pytest.raises(SystemExit, match='corrupt_photo.jpg'):
        infer_tool.main([config, ckpt, str(bad), '--out-dir', str(tmp_path / 'o')])


def test_infer_missing_input_names_it(model_files, tmp_path):
    config, ckpt = model_files
    with pytest.raises(SystemExit, match='no_such_photo.jpg'):
        infer_tool.main(
            [config, ckpt,
             str(tmp_path / 'no_such_photo.jpg'), '--out-dir',
             str(tmp_path / 'o')])


def test_infer_missing_checkpoint_names_it(model_files, tmp_path):
    config, _ = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(10, 20))
    with pytest.raises(SystemExit, match='lost_weights.pth'):
        infer_tool.main([
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
        infer_tool.main([
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
        infer_tool.main([config, ckpt, str(img), '--out-dir', str(tmp_path)])


def test_infer_unwritable_out_dir(model_files, tmp_path):
    config, ckpt = model_files
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), tiny.make_image(8, 8))
    blocker = tmp_path / 'plain_file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match='plain_file'):
        infer_tool.main([config, ckpt, str(img), '--out-dir', str(blocker / 'out')])


def test_infer_empty_folder_and_bad_threshold(model_files, tmp_path):
    config, ckpt = model_files
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no images'):
        infer_tool.main([config, ckpt, str(tmp_path / 'empty'), '--out-dir', str(tmp_path / 'o')])
    with pytest.raises(SystemExit):
        infer_tool.parse_args([config, ckpt, 'x', '--out-dir', 'o', '--threshold', '1.5'])
