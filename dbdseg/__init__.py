"""dbdseg: defocus blur detection and salient object detection on mmsegmentation 1.x.

``import dbdseg`` checks the installed OpenMMLab stack against the supported versions and registers every
dbdseg component (backbones, heads, losses, datasets, transforms, metrics, hooks) into mmseg's registries.
"""
from .version import __version__
from .utils.version_guard import check_versions

check_versions()

from . import datasets, engine, evaluation, models, utils  # noqa: E402,F401
from .utils.checkpoint import register_safe_globals  # noqa: E402

register_safe_globals()

__all__ = ['__version__']
