"""Version guard: fail early, with the supported versions named, on an unsupported stack."""
from packaging.version import Version

#: Supported ranges, ``(min inclusive, max exclusive)``; ``tools/install.sh`` installs the tested
#: ones.
SUPPORTED = {
    'torch': ('2.0.0', '3.0.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmseg': ('1.2.0', '1.3.0'),
}
TESTED = 'torch 2.13.0, mmcv 2.1.0 (full build with ops), mmengine 0.10.7, mmsegmentation 1.2.2'


def check_versions():
    """Raise ``ImportError`` naming the supported versions if a package of the stack is missing or
    outside :data:`SUPPORTED`.

    Raises:
        ImportError: a package is missing, or its version is outside the supported range. The
            message says which package, what was found, what is supported, and how to install the
            tested stack (``bash tools/install.sh``).
    """
    import importlib
    problems = []
    for name, (low, high) in SUPPORTED.items():
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            problems.append(f'{name} is not importable ({exc})')
            continue
        found = Version(mod.__version__.split('+')[0])
        if not Version(low) <= found < Version(high):
            problems.append(
                f'{name} {mod.__version__} is installed, dbdseg supports >={low},<{high}')
    if problems:
        raise ImportError('dbdseg cannot run on this environment: ' + '; '.join(problems) +
                          f'. Tested stack: {TESTED}. Run `bash tools/install.sh` to install it.')


def checked_import(name: str):
    """Import module ``name`` after :func:`check_versions`.

    Args:
        name (str): a module of the stack, e.g. ``'mmseg.registry'``.

    Returns:
        module: the imported module.

    Raises:
        ImportError: the stack is unsupported (see :func:`check_versions`), or ``name`` cannot be
            imported.
    """
    import importlib
    check_versions()
    return importlib.import_module(name)
