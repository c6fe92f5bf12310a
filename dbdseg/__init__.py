"""dbdseg: defocus blur detection and salient object detection on mmsegmentation 1.x.

``import dbdseg`` is light: it imports no subpackage, no torch and no mmseg, and patches nothing.
Components register into mmseg's registries when their subpackage is imported:

* Python code calls :func:`dbdseg.utils.register_all_modules` (mmseg's ``set_env`` pattern), which
  also checks the installed OpenMMLab stack against the supported versions;
* configs list the subpackages in ``custom_imports`` (``configs/_base_/default_runtime.py``).

Entry points that load checkpoints (the tools, :func:`dbdseg.apis.init_model`) install the
checkpoint guard with one call, :func:`dbdseg.utils.checkpoint.install_checkpoint_guard`.
"""
from .version import __version__

__all__ = ['__version__']
