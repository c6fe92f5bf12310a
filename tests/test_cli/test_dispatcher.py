"""dbdseg.cli: the ``dbdseg`` dispatcher, lazy imports, the subcommand contract, convert and bench
argument handling."""
import argparse
import importlib
import json
import os.path as osp
import subprocess
import sys

import pytest

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg import cli
from dbdseg.cli import _common, bench, convert


def _python(code, cwd=None, timeout=120):
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          cwd=cwd or tiny.REPO_ROOT,
                          timeout=timeout)


@pytest.mark.parametrize('command', ['', 'train', 'test', 'infer', 'convert', 'bench'])
def test_help_imports_no_deep_learning_stack(command):
    """``dbdseg [COMMAND] --help`` answers without importing torch, mmengine or mmseg."""
    argv = ([command] if command else []) + ['--help']
    proc = _python('import sys\n'
                   'from dbdseg.cli import main\n'
                   'try:\n'
                   f'    main({argv!r})\n'
                   'except SystemExit as e:\n'
                   '    code = e.code\n'
                   'heavy = sorted(m for m in ("torch", "mmengine", "mmseg", "mmcv", "cv2") '
                   'if m in sys.modules)\n'
                   'print("CODE", code, "HEAVY", heavy)\n')
    assert proc.returncode == 0, proc.stderr
    assert 'CODE 0 HEAVY []' in proc.stdout, proc.stdout[-2000:]
    prog = f'dbdseg {command}'.strip()
    assert f'usage: {prog}' in proc.stdout


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(['--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name in ('train', 'test', 'infer', 'convert', 'bench'):
        assert f'    {name} ' in out


def test_unknown_or_missing_command(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(['frobnicate'])
    assert e.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert cli.main([]) == 2  # no command: the help on stderr, status 2
    assert 'usage: dbdseg' in capsys.readouterr().err


def test_version(capsys):
    from dbdseg.version import __version__
    with pytest.raises(SystemExit):
        cli.main(['--version'])
    assert capsys.readouterr().out.strip() == f'dbdseg {__version__}'


@pytest.mark.parametrize('name', sorted(cli.COMMANDS))
def test_every_command_module_follows_the_contract(name):
    module = importlib.import_module(cli.COMMANDS[name][0])
    for attr in ('add_arguments', 'run', 'main'):
        assert callable(getattr(module, attr)), f'{module.__name__}.{attr}'
    parser = cli.command_parser(name, module)
    assert parser.prog == f'dbdseg {name}'


def test_subcommand_errors_name_the_command(tmp_path):
    """The prog of the chosen command reaches its error messages (exit status 1)."""
    missing = str(tmp_path / 'absent_cfg.py')
    with pytest.raises(SystemExit) as e:
        cli.main(['train', missing])
    assert str(e.value) == f'dbdseg train: error: config file not found: {missing}'
    with pytest.raises(SystemExit) as e:
        cli.main(['test', missing, 'none'])
    assert str(e.value) == f'dbdseg test: error: config file not found: {missing}'


def test_python_dash_m_dbdseg(tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'dbdseg', 'train',
                           str(tmp_path / 'nope.py')],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp_path),
                          timeout=120)
    assert proc.returncode == 1
    assert 'dbdseg train: error: config file not found' in proc.stderr


def test_lazy_dict_action_parses_like_mmengine():
    from mmengine.config import DictAction as MMEngineDictAction
    argv = [
        '--cfg-options', 'a=1', 'b=[1,2]', 'c.d=x', 'e=None', 'f=(1,2)', '--cfg-options', 'g=1.5'
    ]

    def parse(action):
        p = argparse.ArgumentParser()
        p.add_argument('--cfg-options', nargs='+', action=action)
        return p.parse_args(argv).cfg_options

    ours = parse(_common.DictAction)
    assert ours == parse(MMEngineDictAction)
    assert ours == {'a': 1, 'b': [1, 2], 'c.d': 'x', 'e': None, 'f': (1, 2), 'g': 1.5}


def test_tools_dir_of_a_checkout():
    assert _common.checkout_root() == tiny.REPO_ROOT
    assert _common.tools_dir() == osp.join(tiny.REPO_ROOT, 'tools')


# ------------------------------------------------------------------------------------ convert
def test_convert_lists_the_model_converters():
    found = convert.converters()
    assert sorted(found) == ['a2s', 'dd', 'minet', 'mocov2', 'u2net']
    assert osp.basename(found['mocov2']) == 'mocov2_to_dbdseg.py'
    assert convert._resolve('dd2dbdseg', found) == found['dd']  # the script stem works too
    parser = cli.command_parser('convert', convert)
    assert 'u2net2dbdseg' not in parser.format_help()  # short names listed ...
    assert 'dd       Convert depth-distillation' in parser.format_help()  # ... with their doc


def test_convert_unknown_name_lists_the_known_ones():
    args = cli.command_parser('convert', convert).parse_args(['nope', 'a', 'b'])
    with pytest.raises(
            SystemExit,
            match=r'dbdseg convert: error: unknown converter .nope.; '
            r'choose from a2s, dd, minet, mocov2, u2net'):
        convert.run(args)


def test_convert_passes_the_arguments_to_the_converter(tmp_path, capsys):
    """The converter's own parser gets everything after NAME (and shows ``dbdseg convert dd``)."""
    with pytest.raises(SystemExit) as e:
        cli.main(['convert', 'dd', '--help'])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith('usage: dbdseg convert dd ')
    assert sys.argv[0] != 'dbdseg convert dd'  # restored
    # a real conversion: an unreadable source is the converter's error
    with pytest.raises(SystemExit) as e:
        cli.main(['convert', 'dd', str(tmp_path / 'absent.pth'), str(tmp_path / 'out.pth')])
    assert 'absent.pth' in str(e.value)
    assert not (tmp_path / 'out.pth').exists()


# -------------------------------------------------------------------------------------- bench
def test_bench_passes_the_arguments_to_the_benchmark_tool(capsys):
    assert bench.script() == osp.join(tiny.REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')
    with pytest.raises(SystemExit) as e:
        cli.main(['bench', 'cfg.py', '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: dbdseg bench ') and '--repeat' in out
    with pytest.raises(SystemExit, match='dbdseg bench: error: a CONFIG is required'):
        cli.main(['bench'])


def test_bench_runs_the_package_benchmark(tmp_path, capsys):
    config = tiny.write_config(tmp_path / 'tiny.py', tiny.write_dataset(tmp_path / 'data'))
    out = tmp_path / 'bench.json'
    assert cli.main([
        'bench', config, '--shape', '32', '32', '--repeat', '2', '--warmup', '0', '--no-flops',
        '--no-progress', '--out',
        str(out)
    ]) == 0
    res = json.loads(out.read_text())
    assert res['shape'] == [32, 32] and res['repeat'] == 2 and res['mode'] == 'tensor'
    from mmengine.config import Config
    from mmseg.registry import MODELS
    model = MODELS.build(Config.fromfile(config).model)
    assert res['params'] == sum(p.numel() for p in model.parameters())
    assert f'results: {out}' in capsys.readouterr().out
