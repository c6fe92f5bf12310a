"""dbdseg.cli.test: metrics JSON, checkpoint argument, the quiet console (``dbdseg test`` /
``tools/test.py``; end-to-end runs: tests/test_tools/test_test_tool*.py)."""
import json
import logging
import os

import pytest

from dbdseg.cli import test as test_cmd


def test_metrics_out_unwritable_is_clear(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(SystemExit, match=r'error: cannot write metrics file .*m\.json'):
        test_cmd.write_metrics_json(str(blocker / 'm.json'), {'a': 1.0})
    test_cmd.write_metrics_json(str(tmp_path / 'ok.json'), {'a': 1.0})
    assert json.loads((tmp_path / 'ok.json').read_text()) == {'a': 1.0}
    assert sorted(os.listdir(tmp_path)) == ['a_file', 'ok.json']  # no temporary file left


def test_none_is_case_insensitive(tmp_path):
    assert test_cmd.check_checkpoint('None') is None
    assert test_cmd.check_checkpoint('https://example.org/x.pth') == 'https://example.org/x.pth'
    with pytest.raises(SystemExit, match='^tools/test.py: error: checkpoint file not found'):
        test_cmd.check_checkpoint(str(tmp_path / 'x.pth'), prog='tools/test.py')


def _record(msg, level=logging.INFO):
    return logging.LogRecord('mmengine', level, __file__, 1, msg, None, None)


def test_console_filter_keeps_warnings_and_progress_and_holds_the_rest():
    held = []
    filt = test_cmd._ConsoleFilter(held)
    assert filt.filter(_record('a warning', logging.WARNING))
    assert filt.filter(_record('Iter(test) [ 50/500]    eta: 0:01:00  time: 0.1'))
    assert not filt.filter(_record('Iter(test) [500/500]    maxF: 0.9'))  # the summary's job
    assert not filt.filter(_record('Config:\n...'))
    assert [r.getMessage() for r in held] == ['Iter(test) [500/500]    maxF: 0.9', 'Config:\n...']


def test_quiet_console_restores_the_runner_and_the_current_logger():
    import uuid

    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    original = Runner.build_logger
    current = MMLogger.get_instance(f'quiet_{uuid.uuid4().hex[:8]}', log_level='INFO')
    assert MMLogger.get_current_instance() is current
    before = {id(h): list(h.filters) for h in current.handlers}
    with test_cmd.quiet_console() as held:
        assert Runner.build_logger is not original
        current.info('held back')
    assert Runner.build_logger is original
    assert {id(h): list(h.filters) for h in current.handlers} == before
    assert [r.getMessage() for r in held] == ['held back']
