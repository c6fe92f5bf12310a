from .checkpoint import mmengine_safe_globals, register_safe_globals
from .sharpness import gradient_energy_map
from .version_guard import check_versions

__all__ = ['check_versions', 'gradient_energy_map', 'mmengine_safe_globals', 'register_safe_globals']
