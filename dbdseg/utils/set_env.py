"""Explicit registration of every dbdseg component (mmseg's ``mmseg/utils/set_env.py`` pattern)."""

#: The subpackages whose import registers dbdseg's components into mmseg's registries; the
#: ``custom_imports`` of ``configs/_base_/default_runtime.py`` lists the same names.
REGISTERING_MODULES = ('dbdseg.datasets', 'dbdseg.engine', 'dbdseg.evaluation', 'dbdseg.models',
                       'dbdseg.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmseg's and dbdseg's modules into mmseg's registries.

    Imports mmseg's registering packages (``mmseg.utils.register_all_modules``) and then every
    dbdseg subpackage of :data:`REGISTERING_MODULES`. Idempotent: a second call only re-imports
    cached modules.

    Args:
        init_default_scope (bool): make ``'mmseg'`` the current default scope of mmengine's
            registries (what mmseg's function does). Defaults to True.

    Raises:
        ImportError: the installed torch / mmcv / mmengine / mmseg versions are not supported (the
            message names them and the supported ranges; see
            :func:`dbdseg.utils.version_guard.check_versions`).
    """
    import importlib

    from .version_guard import check_versions
    check_versions()
    from mmseg.utils import register_all_modules as mmseg_register_all_modules
    mmseg_register_all_modules(init_default_scope=init_default_scope)
    for name in REGISTERING_MODULES:
        importlib.import_module(name)
