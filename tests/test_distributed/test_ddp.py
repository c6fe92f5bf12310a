"""Distributed (PyTorch DDP) runs with two CPU processes (torchrun + gloo).

1. ``tools/dist_test.sh`` on 5 images (not a multiple of the world size): the metrics equal a
   single-process run, and the results gathered from both ranks hold every image exactly once
   (mmengine's ``DefaultSampler`` pads rank 1 with a repeat of image 0; ``collect_results``
   truncates to the dataset size).
2. ``tools/dist_train.sh``: ``PatchSwapEncoderDecoder`` + ``GradientUNet`` at tiny widths (two
   views per step: original and patch-swapped, i.e. side outputs of one forward), with
   ``RNGStateHook`` (per-rank random states gathered into the checkpoint): both ranks end with
   identical weights, and the checkpoint loads in a single process (``init_model``) and predicts.
3. One torchrun job, several runners: ``EncoderDecoder`` with an auxiliary ``FCNHead`` (a side
   output that has a loss) trains with ``find_unused_parameters=False``; a head with a parameter
   that never gets a gradient trains with ``find_unused_parameters=True`` and fails without it,
   with PyTorch's error that names ``find_unused_parameters``.

With ``DBDSEG_H9_REPORT_DIR`` set, the figures are written there as ``ddp_*.json``.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time
import uuid

import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.utils.set_env import REGISTERING_MODULES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(torch.cuda.is_available(), reason='checks CPU (gloo) DDP'),
]

STEMS = ('s0', 's1', 's2', 's3', 's4')  # 5 images: not a multiple of 2

HELPER_SOURCE = '''
import hashlib
import json
import os
import os.path as osp

import torch
import torch.nn as nn
from mmengine.dist import get_dist_info
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.models.decode_heads import FCNHead
from mmseg.registry import HOOKS, METRICS, MODELS


@METRICS.register_module(force=True)
class RecordSamplesMetric(BaseMetric):
    """Records (img_path, sum of the probability map) of every sample it is given; after the
    gather (rank 0) writes them to ``out_file``."""

    def __init__(self, out_file, **kwargs):
        super().__init__(**kwargs)
        self.out_file = out_file

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append((s['img_path'], float(s['seg_logits']['data'].sum())))

    def compute_metrics(self, results):
        with open(self.out_file, 'w') as f:
            json.dump(results, f)
        with open(self.out_file + '.collect_dir', 'w') as f:  # where the ranks' results met
            f.write(str(self.collect_dir))
        return dict(n_samples=len(results))


def param_digest(model, buffers=True):
    """sha256 of the state_dict (``buffers=False``: of the parameters only; BatchNorm running
    statistics are per rank under DDP with broadcast_buffers=False)."""
    model = model.module if is_model_wrapper(model) else model
    items = model.state_dict().items() if buffers else model.named_parameters()
    h = hashlib.sha256()
    for name, t in sorted(items):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module(force=True)
class ParamDigestHook(Hook):
    """After training, each rank writes the sha256 of its state_dict to work_dir."""

    def after_train(self, runner):
        rank, _ = get_dist_info()
        with open(osp.join(runner.work_dir, f'digest_rank{rank}.json'), 'w') as f:
            json.dump(dict(params=param_digest(runner.model, buffers=False),
                           state=param_digest(runner.model), iter=runner.iter), f)


@MODELS.register_module(force=True)
class UnusedBranchHead(FCNHead):
    """FCNHead with an extra convolution that forward never uses (gets no gradient)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.unused_branch = nn.Conv2d(self.channels, 1, 1)
'''

DRIVER_SOURCE = '''
"""torchrun driver: several short DDP trainings in one process group; results per rank."""
import json
import os.path as osp
import sys
import traceback

import torch
from mmengine.config import Config
from mmengine.dist import get_dist_info
from mmengine.runner import Runner

import dbdseg  # noqa: F401
from dbdseg.utils.runtime import setup_cpu_runtime, shutdown_distributed

base, out_dir = sys.argv[1], sys.argv[2]
GUNET = dict(type='GradientUNet', in_channels=3, widths=(4, 4, 4, 4, 4),
             decoder_widths=(4, 4, 4, 4), fuse_channels=8, mean=[127.5] * 3, std=[64.0] * 3,
             out_indices=(0, 1), norm_cfg=dict(type='BN', requires_grad=True))
HEAD = dict(type='FCNHead', in_channels=4, in_index=0, channels=4, num_convs=1,
            concat_input=False, dropout_ratio=0.0, num_classes=2, out_channels=1, threshold=0.5,
            norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))
CASES = [
    ('aux_head', dict(backbone=GUNET, decode_head=HEAD,
                      auxiliary_head=dict(HEAD, in_index=1, loss_decode=dict(
                          type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.4))), False),
    ('unused_param_find_unused', dict(backbone=GUNET, decode_head=dict(
        HEAD, type='UnusedBranchHead')), True),
    ('unused_param_default', dict(backbone=GUNET, decode_head=dict(
        HEAD, type='UnusedBranchHead')), False),
]
results = {}
for name, model, find_unused in CASES:
    cfg = Config.fromfile(base)
    for key, value in model.items():  # replace whole sub-configs (no merge)
        cfg.model[key] = value
    cfg.work_dir = osp.join(out_dir, name)
    cfg.experiment_name = name
    cfg.find_unused_parameters = find_unused
    cfg.launcher = 'pytorch'
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=100)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=3)
    cfg.custom_hooks = [dict(type='RNGStateHook'), dict(type='ParamDigestHook')]
    setup_cpu_runtime(cfg, 'pytorch')
    try:
        runner = Runner.from_cfg(cfg)
        runner.train()
        unused = [n for n, p in runner.model.module.named_parameters() if 'unused_branch' in n]
        results[name] = dict(ok=True, iter=runner.iter, unused_params=unused)
    except Exception as e:  # noqa: BLE001 - recorded for the test
        results[name] = dict(ok=False, error=f'{type(e).__name__}: {e}',
                             trace=traceback.format_exc()[-1500:])
rank, _ = get_dist_info()
with open(osp.join(out_dir, f'driver_rank{rank}.json'), 'w') as f:
    json.dump(results, f, indent=2)
shutdown_distributed()
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _report(name, obj):
    folder = os.environ.get('DBDSEG_H9_REPORT_DIR')
    if folder:
        with open(osp.join(folder, f'ddp_{name}.json'), 'w') as f:
            json.dump(obj, f, indent=2)


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    helper = f'dbdseg_ddp_helper_{uuid.uuid4().hex[:8]}'
    (root / f'{helper}.py').write_text(HELPER_SOURCE)
    data_root = tiny.write_dataset(root / 'data', stems=STEMS)
    extra = (f"\ncustom_imports = dict(imports=[*{list(REGISTERING_MODULES)!r}, {helper!r}], "
             "allow_failed_imports=False)\n"
             "default_hooks['visualization'] = dict(type='SegVisualizationHook', draw=False)\n"
             "default_hooks['logger'] = dict(type='LoggerHook', interval=1)\n")
    config = tiny.write_config(root / 'tiny_ddp.py', data_root, extra)
    if str(root) not in sys.path:  # the config imports the helper module
        sys.path.insert(0, str(root))
    ckpt = tiny.save_untrained_checkpoint(config, root / 'untrained.pth')
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([str(root), tiny.REPO_ROOT,
                                    os.environ.get('PYTHONPATH', '')]))
    return dict(root=root, config=config, checkpoint=ckpt, env=env, helper=helper)


def _child(project, name, text):
    path = project['root'] / f'{name}.py'
    path.write_text(f"_base_ = ['tiny_ddp.py']\n{text}")
    return str(path)


def _run(cmd, project, timeout=600, cwd=tiny.REPO_ROOT):
    env = dict(project['env'], PORT=str(_free_port()))
    t0 = time.time()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=str(cwd), env=env, timeout=timeout)
    return proc, time.time() - t0


def test_dist_test_equals_single_process_no_duplicates_or_drops(project, tmp_path):
    single_rec, dist_rec = tmp_path / 'single.json', tmp_path / 'dist.json'
    evaluator = ("test_evaluator = [dict(type='SODMetric'), "
                 "dict(type='RecordSamplesMetric', out_file={!r})]\n")
    single_cfg = _child(project, 'single_test', evaluator.format(str(single_rec)))
    dist_cfg = _child(project, 'dist_test', evaluator.format(str(dist_rec)))
    test_tool = tiny.load_tool('test')
    single = test_tool.main([
        single_cfg, project['checkpoint'], '--work-dir',
        str(tmp_path / 'w1'), '--cfg-options', f'experiment_name={tiny.unique_name("single")}'
    ])
    metrics = tmp_path / 'metrics.json'
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    proc, seconds = _run([
        'bash',
        osp.join(tiny.REPO_ROOT, 'tools', 'dist_test.sh'), dist_cfg, project['checkpoint'], '2',
        '--work-dir',
        str(tmp_path / 'w2'), '--metrics-out',
        str(metrics), '--out',
        str(tmp_path / 'preds')
    ],
                         project,
                         cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the ranks' results were gathered under the work dir (not in the current folder: mmengine's
    # default `.dist_test/`), and nothing of it is left (issue 17, item 15)
    collect_dir = (tmp_path / 'dist.json.collect_dir').read_text()
    assert collect_dir.startswith(str(tmp_path / 'w2' / '.dist_test') + os.sep), collect_dir
    assert os.listdir(cwd) == []
    assert not (tmp_path / 'w2' / '.dist_test').exists()
    dist = json.loads(metrics.read_text())
    assert dist == pytest.approx(single, abs=1e-9, rel=1e-9)
    assert dist['n_samples'] == single['n_samples'] == len(STEMS)
    single_samples = json.loads(single_rec.read_text())
    dist_samples = json.loads(dist_rec.read_text())
    paths = [p for p, _ in dist_samples]
    assert sorted(paths) == sorted(p for p, _ in single_samples)  # each image exactly once
    assert len(set(paths)) == len(STEMS)
    assert dict(dist_samples) == pytest.approx(dict(single_samples), rel=1e-6)
    assert sorted(os.listdir(tmp_path / 'preds')) == [f'{s}.png' for s in STEMS]
    _report(
        'test',
        dict(
            n_images=len(STEMS),
            world_size=2,
            seconds=round(seconds, 1),
            single=single,
            dist=dist,
            max_abs_metric_diff=max(abs(dist[k] - single[k]) for k in single),
            gathered_paths=[osp.basename(p) for p in paths]))


def test_dist_train_patch_swap_gradient_unet_checkpoint_loads_in_one_process(project, tmp_path):
    cfg = _child(
        project, 'dist_train', '''
model = dict(
    _delete_=True, type='PatchSwapEncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[64.0] * 3,
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(32, 32)),
    backbone=dict(type='GradientUNet', in_channels=3, widths=(4, 4, 4, 4, 4),
                  decoder_widths=(4, 4, 4, 4), fuse_channels=8, mean=[127.5] * 3,
                  std=[64.0] * 3, norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(type='FCNHead', in_channels=4, in_index=0, channels=4, num_convs=0,
                     concat_input=False, dropout_ratio=0.0, num_classes=2, out_channels=1,
                     threshold=0.5, norm_cfg=dict(type='BN', requires_grad=True),
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True)),
    train_cfg=dict(), test_cfg=dict(mode='whole'),
    patch_size=8, lambda_self=0.2, self_supervision=True)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=3)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=3,
                                     save_best=None))
custom_hooks = [dict(type='RNGStateHook'), dict(type='ParamDigestHook')]
log_level = 'INFO'
randomness = dict(seed=0, diff_rank_seed=True)  # each rank its own random stream
''')
    work, cwd = tmp_path / 'work', tmp_path / 'cwd'
    cwd.mkdir()
    proc, seconds = _run([
        'bash',
        osp.join(tiny.REPO_ROOT, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
        str(work)
    ],
                         project,
                         cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # AtomicCheckpointHook under DDP: the work dir was locked (rank 0) and released; the
    # validation's gathering folder was under the work dir and is gone
    assert os.listdir(cwd) == []
    assert not (work / '.dist_test').exists() and not (work / '.dbdseg_train.lock').exists()
    assert not [n for n in os.listdir(work) if n.endswith('.part')]
    logs = glob.glob(str(work / '*' / '*.log'))
    assert logs and 'Distributed training: True' in open(logs[0]).read()
    digests = [json.loads((work / f'digest_rank{r}.json').read_text()) for r in (0, 1)]
    # DDP kept the parameters of the ranks identical (BN running stats are per rank)
    assert digests[0]['params'] == digests[1]['params'] and digests[0]['iter'] == 3

    ckpt_path = work / 'iter_3.pth'
    ckpt = torch.load(str(ckpt_path), map_location='cpu')  # weights_only
    assert ckpt['rng_state']['world_size'] == 2 and len(ckpt['rng_state']['ranks']) == 2
    assert not torch.equal(ckpt['rng_state']['ranks'][0]['torch'],
                           ckpt['rng_state']['ranks'][1]['torch'])  # both ranks' streams
    helper = __import__(project['helper'])
    from dbdseg.apis import inference_model, init_model
    model = init_model(cfg, str(ckpt_path))
    assert helper.param_digest(model) == digests[0]['state']  # rank 0's weights and buffers
    assert helper.param_digest(model, buffers=False) == digests[1]['params']
    result = inference_model(model, tiny.make_image(24, 36, seed=9))
    assert tuple(result.seg_logits.data.shape) == (1, 24, 36)
    _report(
        'train',
        dict(
            model='PatchSwapEncoderDecoder + GradientUNet (widths 4)',
            world_size=2,
            iters=3,
            seconds=round(seconds, 1),
            rank_param_digests_equal=True,
            checkpoint_digest_equal=True,
            rng_state_ranks=len(ckpt['rng_state']['ranks'])))


def test_ddp_auxiliary_head_and_unused_parameters(project, tmp_path):
    driver = project['root'] / 'ddp_driver.py'
    driver.write_text(DRIVER_SOURCE)
    port = _free_port()
    # mmengine's plain CheckpointHook here: its gathering folder `.dist_test/` goes to the cwd
    proc, seconds = _run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={port}',
        str(driver), project['config'],
        str(tmp_path)
    ],
                         project,
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'driver_rank{r}.json').read_text()) for r in (0, 1)]
    for res in ranks:
        assert res['aux_head']['ok'] and res['aux_head']['iter'] == 3, res['aux_head']
        case = res['unused_param_find_unused']
        assert case['ok'] and case['iter'] == 3 and case['unused_params'], case
        fail = res['unused_param_default']
        assert not fail['ok'] and 'find_unused_parameters' in fail['error'], fail
    for name in ('aux_head', 'unused_param_find_unused'):
        d0 = json.loads((tmp_path / name / 'digest_rank0.json').read_text())
        d1 = json.loads((tmp_path / name / 'digest_rank1.json').read_text())
        assert d0['params'] == d1['params'], name
        assert (tmp_path / name / 'iter_3.pth').is_file()
    _report(
        'unused',
        dict(
            seconds=round(seconds, 1),
            cases={
                k: dict(ok=v['ok'], error=v.get('error', '')[:300])
                for k, v in ranks[0].items()
            }))
