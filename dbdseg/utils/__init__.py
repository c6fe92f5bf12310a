from .version_guard import check_versions

# The visualizer below imports mmseg (and mmcv.ops): check the stack first, so that an unsupported
# version is reported by the guard and not by a failing import (dbdseg/__init__.py imports this
# package before it calls check_versions itself).
check_versions()

from .binary_seg_local_visualizer import BinarySegLocalVisualizer  # noqa: E402
from .checkpoint import mmengine_safe_globals, register_safe_globals  # noqa: E402
from .crf import crf_pseudo_label, dense_crf  # noqa: E402
from .saliency import frequency_tuned_saliency, spectral_residual_saliency  # noqa: E402
from .sharpness import gradient_energy_map  # noqa: E402

__all__ = [
    'BinarySegLocalVisualizer', 'check_versions', 'crf_pseudo_label', 'dense_crf',
    'frequency_tuned_saliency', 'gradient_energy_map',
    'mmengine_safe_globals', 'register_safe_globals', 'spectral_residual_saliency'
]
