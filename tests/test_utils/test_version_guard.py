import types

import pytest

from dbdseg.utils import version_guard


def test_supported_stack_passes():
    version_guard.check_versions()  # the installed, pinned stack


@pytest.mark.parametrize('name,version', [('mmcv', '2.2.0'), ('mmengine', '0.9.1'),
                                          ('mmseg', '1.1.2'), ('torch', '1.13.1')])
def test_unsupported_version_is_named(monkeypatch, name, version):
    import importlib
    real = importlib.import_module

    def fake_import(mod, *args, **kwargs):
        if mod == name:
            return types.SimpleNamespace(__version__=version)
        return real(mod, *args, **kwargs)

    monkeypatch.setattr(importlib, 'import_module', fake_import)
    with pytest.raises(ImportError) as info:
        version_guard.check_versions()
    msg = str(info.value)
    low, high = version_guard.SUPPORTED[name]
    assert f'{name} {version} is installed' in msg and f'>={low},<{high}' in msg
    assert 'tools/install.sh' in msg and 'mmcv 2.1.0' in msg
