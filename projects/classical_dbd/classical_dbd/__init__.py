"""Hand-crafted (non-learned) defocus blur detectors as mmseg segmentors (a dbdseg project).

Importing this package registers :class:`GradientEnergyDBD`, :class:`LBPSharpnessDBD`,
:class:`LaplacianVarianceDBD` and the all-in-focus reference :class:`ConstantDBD` into mmseg's
``MODELS`` registry (scope ``mmseg``). Configs load it through ``custom_imports`` (``imports=[...,
'projects.classical_dbd.classical_dbd']``), so the repository root must be importable
(``tools/train.py``, ``tools/test.py`` and ``tools/infer.py`` put it on ``sys.path``; elsewhere run
from the repository root with ``PYTHONPATH=.``). See ``projects/classical_dbd/README.md``.
"""
from .classical_dbd_segmentor import GREY_WEIGHTS_BGR, ClassicalDBDSegmentor
from .constant_dbd import ConstantDBD
from .gradient_energy_dbd import GradientEnergyDBD
from .laplacian_variance_dbd import LaplacianVarianceDBD
from .lbp_sharpness_dbd import SHARP_LBP_CODES, LBPSharpnessDBD, lbp_riu2_codes, lbp_sharpness_map

__all__ = [
    'ClassicalDBDSegmentor', 'ConstantDBD', 'GradientEnergyDBD', 'GREY_WEIGHTS_BGR',
    'LaplacianVarianceDBD', 'LBPSharpnessDBD', 'SHARP_LBP_CODES', 'lbp_riu2_codes',
    'lbp_sharpness_map'
]
