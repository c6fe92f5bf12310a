""".dev_scripts/benchmark_all.py: metafile discovery, model-index.yml, README tables between
markers, metric sources and the benchmark columns, on a tiny project tree."""
import json
import os
import os.path as osp
import runpy
from types import SimpleNamespace

import pytest
import yaml

import dbdseg_tests_tiny_project as tiny  # registered by conftest.py

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ball = SimpleNamespace(**runpy.run_path(osp.join(ROOT, '.dev_scripts', 'benchmark_all.py')))

START, END = ball.MARK_START, ball.MARK_END

METAFILE = '''Collections:
  - Name: TinyDBD
    Paper:
      Title: A tiny paper
      URL: https://example.org/tiny.pdf
    README: configs/tiny/README.md
Models:
  - Name: tiny_cuhk
    In Collection: TinyDBD
    Config: configs/tiny/tiny_cuhk.py
    Metadata:
      Crop Size: (32, 32)
      FPS (paper): 58.82
      Inference device (paper): Titan Xp
    Results:
      - Task: Defocus Blur Detection
        Dataset: CUHK-DBD
        Protocol: "F at an unstated threshold; Table 1"
        Metrics: {F-measure (paper): 0.927, MAE (paper): 0.066}
    Weights: null
  - Name: tiny_dut
    In Collection: TinyDBD
    Config: configs/tiny/tiny_dut.py
    Metadata:
      Crop Size: (32, 32)
    Results:
      - Task: Defocus Blur Detection
        Dataset: DUT-DBD
        Metrics: {maxF (paper): 0.8, S-measure (paper): 0.7, E-measure (paper): 0.9}
'''

OTHER_METAFILE = '''Models:
  - Name: other_model
    Config: configs/other/other.py
    Metadata:
      Crop Size: (32, 32)
    Results:
      - Task: Salient Object Detection
        Dataset: ECSSD
        Metrics: {maxF: 0.5, MAE: 0.25}
'''

README = f'''# Tiny

Text before.

{START}
old table
{END}

Text after, kept.
'''


@pytest.fixture()
def tree(tiny_project, tmp_path):
    """A project root: two metafiles (one README with markers, one without), a top README."""
    root = tmp_path / 'root'
    for folder in ('tiny', 'other'):
        (root / 'configs' / folder).mkdir(parents=True)
    base = open(tiny_project['config']).read()
    (root / 'configs' / 'tiny' / 'tiny_cuhk.py').write_text(base)
    # same network, other data: shares one benchmark
    (root / 'configs' / 'tiny' / 'tiny_dut.py').write_text(base + '\nrandomness = dict(seed=1)\n')
    (root / 'configs' / 'other' / 'other.py').write_text(base)
    (root / 'configs' / 'tiny' / 'metafile.yaml').write_text(METAFILE)
    (root / 'configs' / 'tiny' / 'README.md').write_text(README)
    (root / 'configs' / 'other' / 'metafile.yaml').write_text(OTHER_METAFILE)
    (root / 'configs' / 'other' / 'README.md').write_text('# Other, no markers\n')
    (root / 'README.md').write_text(f'# top\n\n## Model zoo\n\n{START}\n{END}\n\n## Changelog\n')
    metrics = tmp_path / 'metrics'
    metrics.mkdir()
    (metrics / 'tiny_cuhk.json').write_text(
        json.dumps({
            'CUHK/maxF': 0.91,
            'CUHK/MAE': 0.05,
            'CUHK/Sm': 0.88,
            'DUT/maxF': 0.1
        }))
    return dict(root=root, metrics=metrics, work=tmp_path / 'work')


def _run(tree, *extra):
    return ball.main([
        '--root',
        str(tree['root']), '--repeat', '2', '--warmup', '1', '--metrics-dir',
        str(tree['metrics']), '--work-dir',
        str(tree['work']), '--write-readmes', '--write-index', *extra
    ])


def _between(text):
    return text[text.index(START) + len(START):text.index(END)]


def test_tables_index_and_results(tree, capsys):
    out = _run(tree)
    root = tree['root']
    index = yaml.safe_load((root / 'model-index.yml').read_text())
    assert index == {'Import': ['configs/other/metafile.yaml', 'configs/tiny/metafile.yaml']}

    readme = (root / 'configs' / 'tiny' / 'README.md').read_text()
    assert readme.startswith('# Tiny\n\nText before.\n\n' + START)
    assert readme.endswith(END + '\n\nText after, kept.\n')
    table = _between(readme)
    assert 'old table' not in table
    rows = [line for line in table.splitlines() if line.startswith('| [')]
    assert len(rows) == 2
    cuhk = [c.strip() for c in rows[0].strip('|').split('|')]
    header = [c.strip() for c in table.splitlines()[1].strip('|').split('|')]
    cell = dict(zip(header, cuhk))
    assert cell['config'] == '[tiny_cuhk](tiny_cuhk.py)'
    assert cell['dataset'] == 'CUHK-DBD'
    assert cell['protocol'] == 'F at an unstated threshold; Table 1'
    # measured numbers from the metrics file's CUHK/* keys (set matched to the Dataset)
    assert (cell['maxF'], cell['MAE'], cell['S-measure']) == ('0.9100', '0.0500', '0.8800')
    assert (cell['F (paper)'], cell['MAE (paper)'], cell['S-measure (paper)']) == ('0.927', '0.066',
                                                                                   '-')
    assert cell['FPS (paper)'] == '58.82 (Titan Xp)'
    assert cell['input'] == '32x32' and cell['device'].startswith('CPU')
    assert float(cell['FPS']) > 0 and float(cell['FLOPs (G)']) >= 0
    dut = dict(zip(header, [c.strip() for c in rows[1].strip('|').split('|')]))
    # no metrics for tiny_dut: dashes; paper maxF goes to F (paper), E-measure has no column
    assert (dut['maxF'], dut['F (paper)'], dut['S-measure (paper)']) == ('-', '0.8', '0.7')
    assert dut['protocol'] == 'paper: maxF, S-measure, E-measure'

    # both configs build the same network at the same size: one shared measurement
    results = json.loads((tree['work'] / 'results.json').read_text())['models']
    assert results['tiny_cuhk']['benchmark'] == results['tiny_dut']['benchmark']
    params = results['tiny_cuhk']['benchmark']['params']
    assert cell['params (M)'] == f'{params / 1e6:.2f}'

    top = (root / 'README.md').read_text()
    summary = _between(top)
    assert '[TinyDBD](configs/tiny/README.md) | A tiny paper | 2 |' in summary
    assert '| 1 / 2 | 2 / 2 |' in summary  # measured rows / paper rows
    assert top.endswith(END + '\n\n## Changelog\n')
    # the README without markers is left alone and reported
    assert (root / 'configs' / 'other' / 'README.md').read_text() == '# Other, no markers\n'
    printed = capsys.readouterr().out
    assert 'configs/other/README.md: no markers' in printed
    other = dict(
        zip(header, [c.strip() for c in _table_rows(out['tables']['configs/other/README.md'])[0]]))
    assert (other['maxF'], other['MAE']) == ('0.5000', '0.2500')  # measured keys of the metafile


def _table_rows(table):
    return [[c for c in line.strip('|').split('|')] for line in table.splitlines()
            if line.startswith('| [')]


def test_rerun_replaces_only_between_markers(tree):
    _run(tree)
    (tree['metrics'] / 'tiny_cuhk.json').write_text(json.dumps({'CUHK/maxF': 0.5}))
    readme_path = tree['root'] / 'configs' / 'tiny' / 'README.md'
    _run(tree, '--reuse', '--filter', 'cuhk')
    text = readme_path.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    assert '| 0.5000 |' in _between(text) and '0.9100' not in text
    # tiny_dut was filtered out but keeps its row and its previous benchmark
    assert '[tiny_dut](tiny_dut.py)' in _between(text)
    assert text.endswith('Text after, kept.\n')


def test_new_metafile_is_picked_up_without_edits(tree):
    _run(tree)
    folder = tree['root'] / 'configs' / 'late'
    folder.mkdir()
    (folder / 'late.py').write_text((tree['root'] / 'configs' / 'other' / 'other.py').read_text())
    (folder / 'metafile.yaml'
     ).write_text('Models:\n  - Name: late_model\n    Config: configs/late/late.py\n')
    (folder / 'README.md').write_text(f'# Late\n{START}\n{END}\n')
    _run(tree, '--no-benchmark')
    index = yaml.safe_load((tree['root'] / 'model-index.yml').read_text())
    assert 'configs/late/metafile.yaml' in index['Import']
    assert '[late_model](late.py) | - |' in (folder / 'README.md').read_text()


def test_helpers():
    assert ball.match_set('CUHK-DBD', ['CUHK', 'DUT']) == 'CUHK'
    assert ball.match_set('DUT-DBD', ['DUT', 'DUT-OMRON']) == 'DUT'
    assert ball.match_set('DUT-OMRON', ['DUT', 'DUT-OMRON']) == 'DUT-OMRON'
    assert ball.match_set('ECSSD', ['CUHK']) is None
    assert ball.measured_for('ECSSD', {
        'maxF': 0.7,
        'Sm': 0.6
    }, 1) == {
        'maxF': 0.7,
        'S-measure': 0.6
    }
    # plain keys are ambiguous for a model with several result rows
    assert ball.measured_for('ECSSD', {'maxF': 0.7, 'CUHK/maxF': 0.2}, 2) == {}
    assert ball.paper_column('ave-F') == 'F (paper)'
    assert ball.paper_column('MAE') == 'MAE (paper)'
    assert ball.paper_column('E-measure') is None
    split = ball.result_metrics({'Metrics': {'F-measure (paper)': 0.9, 'maxF': 0.8}})
    assert split == dict(
        paper={'F (paper)': 0.9}, paper_names=['F-measure'], measured={'maxF': 0.8})
    assert ball.replace_between_markers('no markers', 'x') is None
    with pytest.raises(ValueError, match='out of order'):
        ball.replace_between_markers(f'{END} {START}', 'x')
    with pytest.raises(ValueError, match='incomplete'):
        ball.replace_between_markers(f'{START} only', 'x')
    assert ball._crop_size({'Crop Size': '(320, 256)'}) == [320, 256]


def test_test_metrics_run_when_checkpoint_and_data_exist(tree, tiny_project, tmp_path):
    """A checkpoint in --checkpoint-dir and existing test data: tools/test.py gives the numbers."""
    ckpt_dir = tmp_path / 'ckpts'
    ckpt_dir.mkdir()
    tiny.save_untrained_checkpoint(tiny_project['config'], ckpt_dir / 'other_model.pth')
    out = ball.main([
        '--root',
        str(tree['root']), '--no-benchmark', '--checkpoint-dir',
        str(ckpt_dir), '--work-dir',
        str(tree['work']), '--filter', 'other'
    ])
    entry = out['models']['other_model']
    assert entry['metrics_source'].startswith('tools/test.py')
    assert 0 <= entry['metrics']['maxF'] <= 1 and 0 <= entry['metrics']['MAE'] <= 1
    assert os.path.isfile(tree['work'] / 'test' / 'other_model' / 'metrics.json')
