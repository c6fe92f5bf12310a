"""A light ``import dbdseg`` and explicit registration (dbdseg.utils.register_all_modules)."""
import subprocess
import sys

from dbdseg.utils.set_env import REGISTERING_MODULES


def _run(code):
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_import_dbdseg_is_light_and_patches_nothing():
    lines = _run('import sys, dbdseg\n'
                 "heavy = ('torch', 'mmseg', 'mmengine', 'mmcv', 'cv2')\n"
                 'print(sorted(m for m in heavy if m in sys.modules))\n'
                 "print(sorted(m for m in sys.modules if m.startswith('dbdseg.')))\n"
                 'import torch.serialization as s\n'
                 "print(any('HistoryBuffer' in str(g) for g in s.get_safe_globals()))\n"
                 'from mmengine.runner.checkpoint import CheckpointLoader\n'
                 'loaders = CheckpointLoader._schemes.values()\n'
                 "print(any(getattr(f, '_dbdseg_guarded', False) for f in loaders))\n"
                 'from mmseg.registry import MODELS\n'
                 "print(MODELS.get('GradientUNet') is None)\n")
    assert lines == ['[]', "['dbdseg.version']", 'False', 'False', 'True']


def test_register_all_modules_registers_every_subpackage():
    lines = _run(
        'from dbdseg.utils import register_all_modules\n'
        'register_all_modules()\n'
        'from mmengine.registry import DefaultScope\n'
        'from mmseg.registry import DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS, VISUALIZERS\n'
        "print(DefaultScope.get_current_instance().scope_name)\n"
        "print(all(x is not None for x in (MODELS.get('GradientUNet'), MODELS.get('SABHead'),"
        " DATASETS.get('CUHKDBDDataset'), TRANSFORMS.get('LoadBinaryAnnotations'),"
        " METRICS.get('SODMetric'), HOOKS.get('RNGStateHook'),"
        " VISUALIZERS.get('BinarySegLocalVisualizer'))))\n"
        'import sys\n'
        f'print(all(m in sys.modules for m in {list(REGISTERING_MODULES)!r}))\n')
    assert lines == ['mmseg', 'True', 'True']


def test_default_runtime_imports_the_registering_subpackages():
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_base_/default_runtime.py', import_custom_modules=False)
    assert cfg.custom_imports.imports == list(REGISTERING_MODULES)
    assert cfg.custom_imports.allow_failed_imports is False
