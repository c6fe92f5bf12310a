"""Suite-wide set-up: registers the tiny project (tests/test_tools/tiny_project.py) as the
importable module ``dbdseg_tests_tiny_project`` for the tool and API tests, and registers mmseg's
and dbdseg's components once."""
import importlib.util
import os.path as osp
import sys

TINY_NAME = 'dbdseg_tests_tiny_project'
TINY_PATH = osp.join(osp.dirname(__file__), 'test_tools', 'tiny_project.py')

if TINY_NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(TINY_NAME, TINY_PATH)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[TINY_NAME] = _module
    _spec.loader.exec_module(_module)

# `import dbdseg` registers nothing: register mmseg's and dbdseg's components once for the suite
# (what the tools do through dbdseg.utils.register_all_modules).
from dbdseg.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=False)
