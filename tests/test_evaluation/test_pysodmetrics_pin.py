"""dbdseg.evaluation.functional.sod_measures calls pysodmetrics' internals (not only its public
evaluators): this file fails loudly, naming the internal, when an installed pysodmetrics lacks one
of them or changed its signature, and when the installed version is outside the tested range
(setup.cfg pins ``pysodmetrics>=1.6.2,<1.7``; per-image values bit-identical to 1.6.2's evaluators
are pinned in test_sod_metric.py)."""
import inspect

import py_sod_metrics as psm
import pytest

TESTED = ((1, 6, 2), (1, 7, 0))  # [lowest tested, first untested)


def _installed_version():
    from importlib.metadata import version
    return tuple(int(x) for x in version('pysodmetrics').split('.')[:3])


# (object, attribute, parameter names after self) that sod_measures.py uses
INTERNALS = [
    ('py_sod_metrics.utils', 'prepare_data', ['pred', 'gt']),
    ('py_sod_metrics.utils', 'EPS', None),
    ('FmeasureV2', 'adaptively_binarizing', ['pred', 'gt', 'FG', 'BG']),
    ('FmeasureHandler', '__init__', ['with_dynamic', 'with_adaptive']),
    ('PrecisionHandler', '__init__', ['with_dynamic', 'with_adaptive']),
    ('RecallHandler', '__init__', ['with_dynamic', 'with_adaptive']),
    ('MAE', 'cal_mae', ['pred', 'gt']),
    ('Smeasure', 'cal_sm', ['pred', 'gt']),
    ('Emeasure', 'cal_adaptive_em', ['pred', 'gt']),
    ('Emeasure', 'generate_parts_numel_combinations',
     ['fg_fg_numel', 'fg_bg_numel', 'pred_fg_numel', 'pred_bg_numel']),
    ('WeightedFmeasure', 'cal_wfm', ['pred', 'gt']),
]


def test_installed_pysodmetrics_is_in_the_tested_range():
    low, high = TESTED
    installed = _installed_version()
    assert low <= installed < high, (
        f'pysodmetrics {installed} is outside the range dbdseg was tested with '
        f'[{low}, {high}); sod_measures.py uses its internals')


@pytest.mark.parametrize('owner,name,params', INTERNALS, ids=lambda v: str(v))
def test_pysodmetrics_internals_used_by_dbdseg_exist(owner, name, params):
    import importlib
    if owner.startswith('py_sod_metrics'):
        obj = importlib.import_module(owner)
    else:
        obj = getattr(psm, owner, None)
        assert obj is not None, f'pysodmetrics lacks {owner}, used by sod_measures.py'
    attr = getattr(obj, name, None)
    assert attr is not None, f'pysodmetrics {owner}.{name} is gone; sod_measures.py calls it'
    if params is not None:
        got = [p for p in inspect.signature(attr).parameters if p != 'self']
        assert got[:len(params)] == params, (
            f'pysodmetrics {owner}.{name} now takes {got}; sod_measures.py passes {params}')


def test_handlers_keep_the_attributes_the_glue_relies_on():
    # FmeasureHandler(..., beta=) is called on dynamic counts: tp, fp, tn, fn keywords
    handler = psm.FmeasureHandler(False, False, beta=0.3)
    import numpy as np
    tp = np.array([1.0, 2.0])
    fp = np.array([0.0, 1.0])
    out = handler(tp=tp, fp=fp, tn=np.array([3.0, 2.0]), fn=np.array([1.0, 0.0]))
    # P = 1, 2/3; R = 1/2, 1 -> F = 1.3 * 0.5 / 0.8 and 1.3 * 2/3 / 1.2
    np.testing.assert_allclose(out, [1.3 * 0.5 / 0.8, 1.3 * (2 / 3) / (0.2 + 1)], rtol=1e-12)
