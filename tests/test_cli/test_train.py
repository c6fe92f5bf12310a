"""dbdseg.cli.train: work dir, resume, AMP and CPU runtime handling (``dbdseg train`` /
``tools/train.py``; end-to-end runs: tests/test_tools/test_train_tool.py)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from dbdseg.cli import train as train_tool


def test_work_dir_precedence(tmp_path):
    cfg = Config(dict(work_dir='from_cfg'))
    assert train_tool.resolve_work_dir(cfg, 'from_cli', 'a/b/my_cfg.py') == 'from_cli'
    cfg = Config(dict(work_dir='from_cfg'))
    assert train_tool.resolve_work_dir(cfg, None, 'a/b/my_cfg.py') == 'from_cfg'
    cfg = Config(dict())
    assert train_tool.resolve_work_dir(cfg, None,
                                       'a/b/my_cfg.py') == osp.join('./work_dirs', 'my_cfg')


def test_resume_modes(tmp_path):
    work_dir = str(tmp_path)
    cfg = Config(dict(work_dir=work_dir, load_from='pretrained.pth'))
    train_tool.apply_resume(cfg, None)
    assert cfg.resume is False and cfg.load_from == 'pretrained.pth'
    # auto without a recorded checkpoint: fresh start, config load_from kept
    train_tool.apply_resume(cfg, 'auto')
    assert cfg.resume is False and cfg.load_from == 'pretrained.pth'
    # auto with a recorded checkpoint (recorded path gone: found in the work dir by name)
    ckpt = tmp_path / 'iter_8.pth'
    ckpt.write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/iter_8.pth')
    train_tool.apply_resume(cfg, 'auto')
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    # explicit path
    cfg = Config(dict(work_dir=work_dir, load_from=None))
    train_tool.apply_resume(cfg, str(ckpt))
    assert cfg.resume is True and cfg.load_from == str(ckpt)


def test_resume_flag_parsing():
    args = train_tool.parse_args(['cfg.py', '--resume'])
    assert args.resume == 'auto'
    args = train_tool.parse_args(['cfg.py', '--resume', 'x.pth'])
    assert args.resume == 'x.pth'
    assert train_tool.parse_args(['cfg.py']).resume is None


def test_amp_switches_optim_wrapper():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    train_tool.apply_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = Config(dict(optim_wrapper=dict(type='OtherWrapper')))
    with pytest.raises(SystemExit, match='OptimWrapper'):
        train_tool.apply_amp(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU runtime switch')
def test_cpu_runtime_uses_gloo():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    train_tool.setup_cpu_runtime(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    cfg = Config(dict())
    train_tool.setup_cpu_runtime(cfg, 'none')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    with pytest.raises(SystemExit, match='pytorch'):
        train_tool.setup_cpu_runtime(Config(dict()), 'slurm')


def test_errors_carry_the_prog_of_the_command():
    cfg = Config(dict(optim_wrapper=dict(type='OtherWrapper')))
    with pytest.raises(SystemExit, match='^dbdseg train: error: --amp'):
        train_tool.apply_amp(cfg)
    with pytest.raises(SystemExit, match='^tools/train.py: error: --amp'):
        train_tool.apply_amp(cfg, prog='tools/train.py')
    args = train_tool.parse_args(['absent.py'], prog='my prog')
    assert args.prog == 'my prog'
    with pytest.raises(SystemExit, match='^my prog: error: config file not found: absent.py'):
        train_tool.train(args)
