"""mmseg's layout: every module file of dbdseg.models, dbdseg.engine and dbdseg.evaluation registers
at most one class (SRFB, RFB and UpsampleConvBlock each have their own file)."""
import glob
import os.path as osp
import re

import dbdseg

PACKAGE = osp.dirname(osp.abspath(dbdseg.__file__))


def test_at_most_one_registration_per_file():
    counts = {}
    for sub in ('models', 'engine', 'evaluation'):
        for path in glob.glob(osp.join(PACKAGE, sub, '**', '*.py'), recursive=True):
            with open(path, encoding='utf-8') as f:
                n = len(re.findall(r'\.register_module\(', f.read()))
            counts[osp.relpath(path, PACKAGE)] = n
    assert counts, PACKAGE
    assert {path: n for path, n in counts.items() if n > 1} == {}
    assert counts[osp.join('models', 'utils', 'srfb.py')] == 1
    assert counts[osp.join('models', 'utils', 'rfb.py')] == 1
    assert counts[osp.join('models', 'utils', 'upsample_conv_block.py')] == 1
