"""dbdseg.apis.output_guard: test-run outputs never land in a dataset folder of the run and never
replace files the run did not write (issue 17, item 1); signals end a run through its clean-up."""
import os
import os.path as osp
import signal
import time

import pytest
from mmengine.config import Config

from dbdseg.apis.output_guard import (DatasetFolderError, OutputExistsError, check_output_folder,
                                      check_test_outputs, claim_output, dataset_folders,
                                      existing_outputs, exit_on_signals, set_metric_overwrite)


def _ds(root, **prefix):
    return dict(type='BinarySegDataset', data_root=str(root), data_prefix=prefix)


def _cfg(dataset, **extra):
    return Config(
        dict(
            default_scope='mmseg',
            test_dataloader=dict(dataset=dataset),
            test_evaluator=dict(type='SODMetric'),
            **extra))


def test_dataset_folders_of_wrappers_members_and_extra_maps(tmp_path):
    a, b, c = tmp_path / 'A', tmp_path / 'B', tmp_path / 'C'
    dataset = dict(
        type='MultiSetDataset',
        set_names=['A', 'B', 'C'],
        datasets=[
            _ds(a, img_path='images', seg_map_path='masks'),
            dict(type='RepeatDataset', times=2, dataset=_ds(b, img_path='', seg_map_path='gt')),
            _ds(c,
                img_path=str(tmp_path / 'abs_images'),
                saliency_map_path='sal',
                depth_map_path=None),
        ])
    cfg = _cfg(dataset, train_dataloader=dict(dataset=_ds(tmp_path / 'T', img_path='img')))
    found = dict(dataset_folders(cfg))
    assert set(found) == {
        str(a / 'images'),
        str(a / 'masks'),
        str(b),
        str(b / 'gt'),
        str(tmp_path / 'abs_images'),
        str(c / 'sal'),
        str(tmp_path / 'T' / 'img')
    }
    assert found[str(a / 'masks')] == 'test_dataloader.dataset.datasets[0] seg_map_path'
    assert found[str(b / 'gt')] == 'test_dataloader.dataset.datasets[1].dataset seg_map_path'
    # no data_prefix in the config: the class default (img_path='', seg_map_path='')
    cfg = _cfg(dict(type='BinarySegDataset', data_root=str(a)))
    assert [f for f, _ in dataset_folders(cfg)] == [str(a)]


@pytest.mark.parametrize('target,relation', [('data/A/masks', 'is'),
                                             ('data/A/masks/preds', 'is inside'),
                                             ('data/A', 'holds'), ('data', 'holds')])
def test_output_folder_overlapping_a_dataset_folder_is_refused(tmp_path, target, relation):
    masks = tmp_path / 'data' / 'A' / 'masks'
    masks.mkdir(parents=True)
    folders = [(str(masks), 'test_dataloader.dataset seg_map_path')]
    with pytest.raises(DatasetFolderError) as e:
        check_output_folder('--out', str(tmp_path / target), folders)
    msg = str(e.value)
    assert msg.startswith(f'--out {tmp_path / target} {relation} the dataset folder {masks}')
    assert 'seg_map_path' in msg
    check_output_folder('--out', str(tmp_path / 'data' / 'B'), folders)  # a sibling is fine
    check_output_folder('--out', str(tmp_path / 'data' / 'A' / 'masks_pred'), folders)


def test_symlinked_output_folder_is_seen_through(tmp_path):
    masks = tmp_path / 'data' / 'masks'
    masks.mkdir(parents=True)
    os.symlink(masks, tmp_path / 'link')
    with pytest.raises(DatasetFolderError, match='is the dataset folder'):
        check_output_folder('--show-dir', str(tmp_path / 'link'), [(str(masks), 'x')])


def test_existing_outputs_by_kind(tmp_path):
    out = tmp_path / 'out'
    (out / 'A').mkdir(parents=True)
    (out / 'A' / 'x.png').write_bytes(b'1')
    (out / 'notes.txt').write_text('unrelated')
    (out / '.x.png.abc.tmp').write_bytes(b'')  # hidden temporary file: not an output
    assert existing_outputs(str(out), 'predictions') == [str(out / 'A' / 'x.png')]
    assert existing_outputs(str(out), 'curves') == []
    (out / 'A' / 'curves.json').write_text('{}')
    assert existing_outputs(str(out), 'curves') == [str(out / 'A' / 'curves.json')]
    assert existing_outputs(str(out), 'pictures') == []
    (out / 'vis_data').mkdir()
    (out / 'vis_data' / 'config.py').write_text('')
    assert existing_outputs(str(out), 'pictures') == [str(out / 'vis_data' / 'config.py')]
    assert existing_outputs(str(tmp_path / 'missing'), 'predictions') == []


def test_check_test_outputs(tmp_path):
    data = tmp_path / 'set'
    (data / 'masks').mkdir(parents=True)
    cfg = _cfg(_ds(data, img_path='images', seg_map_path='masks'))
    with pytest.raises(DatasetFolderError, match='--out'):
        check_test_outputs(cfg, out=str(data / 'masks'))
    with pytest.raises(DatasetFolderError, match='--curve-dir'):
        check_test_outputs(cfg, curve_dir=str(tmp_path), overwrite=True)  # --overwrite: still
    out = tmp_path / 'preds'
    check_test_outputs(cfg, out=str(out), show_dir=str(tmp_path / 'show'))  # new folders
    out.mkdir()
    (out / 'keep.txt').write_text('')
    check_test_outputs(cfg, out=str(out))  # nothing the run writes is there
    (out / 'img_a.png').write_bytes(b'earlier')
    with pytest.raises(OutputExistsError) as e:
        check_test_outputs(cfg, out=str(out))
    msg = str(e.value)
    assert '--out' in msg and 'img_a.png' in msg and '--overwrite' in msg
    assert isinstance(e.value, ValueError) and isinstance(e.value, FileExistsError)
    check_test_outputs(cfg, out=str(out), overwrite=True)
    plain_file = tmp_path / 'a_file'
    plain_file.write_text('')
    with pytest.raises(DatasetFolderError, match='not a folder'):
        check_test_outputs(cfg, show_dir=str(plain_file))


def test_claim_output_rule(tmp_path):
    written = set()
    new = str(tmp_path / 'new.png')
    assert claim_output(new, written) == new
    open(new, 'w').close()
    claim_output(new, written)  # written by this run: may be written again
    old = tmp_path / 'old.png'
    old.write_bytes(b'keep')
    with pytest.raises(OutputExistsError, match=r'old\.png'):
        claim_output(str(old), written)
    claim_output(str(old), written, overwrite=True)
    assert osp.realpath(str(old)) in written


def test_set_metric_overwrite_only_where_the_metric_takes_it():
    from mmengine.evaluator import BaseMetric

    class TakesIt(BaseMetric):

        def __init__(self, overwrite=False, **kwargs):
            super().__init__(**kwargs)

        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    cfg = Config(
        dict(
            default_scope='mmseg',
            test_evaluator=[dict(type=TakesIt),
                            dict(type='IoUMetric', iou_metrics=['mIoU'])]))
    assert set_metric_overwrite(cfg, True) == 1
    assert cfg.test_evaluator[0]['overwrite'] is True and 'overwrite' not in cfg.test_evaluator[1]
    cfg.test_evaluator[0].pop('overwrite')
    assert set_metric_overwrite(cfg, False) == 0 and 'overwrite' not in cfg.test_evaluator[0]


def test_exit_on_signals_runs_the_clean_up(tmp_path):
    marker = tmp_path / 'cleaned'
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as e:
        with exit_on_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)  # interrupted by the handler
            finally:
                marker.write_text('yes')
    assert e.value.code == 128 + signal.SIGTERM
    assert marker.read_text() == 'yes'
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is put back
