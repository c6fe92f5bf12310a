""".dev_scripts/afiu_param_table.py and dd_param_table.py: every parameter count of the AFIU and DD
models that has a counterpart in the official implementations equals it (golden counts embedded in
the scripts), and the shapes the scripts print."""
import json
import os.path as osp
import runpy

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DD_CONFIGS = osp.join(ROOT, 'configs', 'depth_distillation')
R18 = (64, 64, 128, 256, 512)


def _script(name):
    return runpy.run_path(osp.join(ROOT, '.dev_scripts', f'{name}.py'))


def test_dd_param_table_matches_reference_and_shapes(capsys):
    """Every per-level count of the DD primitive and the VGG config equals the official model's;
    side outputs at 320 have strides 16, 8, 4, 2, 1."""
    main = _script('dd_param_table')['main']
    for name, head_total in (('dd_resnext101-32x4d_1xb6-10k_cuhk-320x320.py', 42339482),
                             ('dd_vgg16_1xb6-10k_cuhk-320x320.py', 4721946)):
        rows, shapes = main([osp.join(DD_CONFIGS, name)])
        assert len(rows) == 19 and all(ours == ref for _, _, ours, _, ref in rows)
        assert dict((r[1], r[2]) for r in rows)['decode_head'] == head_total
        sizes = [320, 20, 40, 80, 160, 320]
        assert [s for _, s in shapes] == [(1, 1, n, n) for n in sizes * 2]
    # an ablation differs from the reference where it should (no pyramid in the blocks)
    rows, _ = main([osp.join(DD_CONFIGS, 'dd-fcn-d_resnext101-32x4d_1xb6-10k_cuhk-320x320.py')])
    unequal = {r[3] for r in rows if r[2] != r[4]}
    assert {'deconv1', 'deconv5', 'sideatt1', 'model'} <= unequal
    assert 'classifier1' not in unequal and 'fusiond' not in unequal
    assert 'equal' in capsys.readouterr().out


def test_afiu_param_table(tmp_path):
    main = _script('afiu_param_table')['main']
    res = main(['--no-forward', '--json', str(tmp_path / 't.json')])
    refs = [r for r in res['rows'] if r['reference'] is not None]
    assert len(refs) == 11  # backbone, 5 AIMs, 5 SIMs have MINet counterparts
    assert all(r['params'] == r['reference'] for r in refs)
    assert all(r['params'] == r['reference'] for r in res['rsu_check']) and \
        len(res['rsu_check']) == 22
    assert res['total_params'] == 164072161
    assert json.loads((tmp_path / 't.json').read_text())['total_params'] == 164072161
    small = main([
        '--size', '64', '96', '--runs', '1', '--threads', '1', '--cfg-options',
        'model.backbone.depth=18', f'model.neck.in_channels={list(R18)}',
        'model.neck.aim_mid_channels=8'
    ])
    assert [r['reference'] for r in small['rows'][:6]] == [None] * 6  # not MINet's widths
    fwd = small['forward']
    assert fwd['neck'] == [[1, 64, 32, 48], [1, 64, 16, 24], [1, 64, 8, 12], [1, 64, 4, 6],
                           [1, 64, 2, 3]]
    assert fwd['logits'] == [1, 1, 32, 48] and fwd['output'] == [1, 1, 64, 96]
    assert fwd['latency_ms_min'] > 0 and all(v > 0 for v in fwd['conv_gmacs'].values())
