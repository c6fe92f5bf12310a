"""Hand-crafted (non-learned) defocus blur detectors as mmseg segmentors (a dbdseg project).

Importing this package registers :class:`GradientEnergyDBD`, :class:`LBPSharpnessDBD` and
:class:`LaplacianVarianceDBD` into mmseg's ``MODELS`` registry (scope ``mmseg``). Configs load it
with ``custom_imports = dict(imports=['dbdseg', 'projects.classical_dbd.classical_dbd'])``, so the
repository root must be importable (dbdseg's editable install puts it on ``sys.path``; otherwise
run from the repository root with ``PYTHONPATH=.``). See ``projects/classical_dbd/README.md``.
"""
from .classical_dbd_segmentor import GREY_WEIGHTS_BGR, ClassicalDBDSegmentor
from .gradient_energy_dbd import GradientEnergyDBD
from .laplacian_variance_dbd import LaplacianVarianceDBD
from .lbp_sharpness_dbd import (SHARP_LBP_CODES, LBPSharpnessDBD, lbp_riu2_codes,
                                lbp_sharpness_map)

__all__ = [
    'ClassicalDBDSegmentor', 'GradientEnergyDBD', 'GREY_WEIGHTS_BGR', 'LaplacianVarianceDBD',
    'LBPSharpnessDBD', 'SHARP_LBP_CODES', 'lbp_riu2_codes', 'lbp_sharpness_map'
]
