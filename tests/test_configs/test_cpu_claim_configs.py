"""The configs of the CPU claim tests (``configs/*/cpu_experiment/*effnet-lite0*``).

Each paper's README table compares arms that must differ only in what the claim is about; these
tests flatten the configs and pin the exact set of differing keys, so an edit that lets a second
difference creep into one arm (another seed, schedule, input size or data folder) fails here. They
also pin the data protocol (train on renders of PASCAL-S 1-750, test on renders of 751-850 or on
the DUT photos; SOD on PASCAL-S 1-750 / 751-850) and that every fine-tune arm loads the checkpoint
its SOD step writes. Building each model from the installed weights is in
``test_effnet_lite_configs.py``.
"""
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AFIU = osp.join(REPO, 'configs', 'afiu', 'cpu_experiment', 'afiu_effnet-lite0_')
RT = osp.join(REPO, 'configs', 'realtime_dbd', 'cpu_experiment',
              'realtime-dbd_gradunet-lite_effnet-lite0_')
DD = osp.join(REPO, 'configs', 'depth_distillation', 'cpu_experiment')
A2S = osp.join(REPO, 'configs', 'a2s', 'cpu_experiment')
RENDERS = 'work_dirs/exp/pascal_s_renders'
PASCAL_S = 'work_dirs/exp/pascal_s_numeric'
DUT = 'work_dirs/exp/dut_dbd_dev5'


def _load(path):
    return Config.fromfile(path).to_dict()


def _diff(a, b, prefix=''):
    """Dotted keys whose values differ between two nested dicts (lists compared whole)."""
    keys = set()
    for key in set(a) | set(b):
        name = f'{prefix}{key}'
        va, vb = a.get(key, '<missing>'), b.get(key, '<missing>')
        if isinstance(va, dict) and isinstance(vb, dict):
            keys |= _diff(va, vb, name + '.')
        elif va != vb:
            keys.add(name)
    return keys


def test_diff_names_nested_and_missing_keys():
    a = dict(model=dict(head=dict(w=1, k=2)), seed=0, hooks=[1, 2])
    b = dict(model=dict(head=dict(w=1, k=3)), hooks=[1, 3], extra=None)
    assert _diff(a, b) == {'model.head.k', 'seed', 'hooks', 'extra'}
    assert _diff(a, a) == set()


# ------------------------------------------------------------------------------- AFIU transfer
AFIU_SOD = AFIU + '1xb8-300it_pascal-s-160x160.py'
AFIU_DBD = AFIU + '1xb8-300it_synthetic-defocus-pascal-s-160x160.py'
AFIU_FT = AFIU + '1xb8-300it_sod2dbd_synthetic-defocus-pascal-s-160x160.py'
AFIU_DUT = AFIU + 'test_dut-dbd-dev5-160x160.py'


def _dbd_protocol(cfg):
    train, test = cfg['train_dataloader']['dataset'], cfg['test_dataloader']['dataset']
    assert (train['data_root'], train['ann_file']) == (RENDERS, 'train.txt')
    assert (test['data_root'], test['ann_file']) == (RENDERS, 'val.txt')
    assert cfg['test_evaluator'] == dict(type='SODMetric', dbd_protocols=['dd'])
    assert cfg['randomness']['seed'] == 0
    encoder = cfg['model']['backbone'].get('encoder', cfg['model']['backbone'])
    assert encoder['type'] == 'EfficientNetLite'
    assert encoder['init_cfg'] == dict(type='Pretrained', checkpoint='efficientnet-lite://lite0')


def _dut_test(test_path, train_path):
    test, train = _load(test_path), _load(train_path)
    dataset = test['test_dataloader']['dataset']
    assert (dataset['type'], dataset['data_root']) == ('DUTDBDDataset', DUT)
    assert dataset['data_prefix'] == dict(img_path='test/images', seg_map_path='test/masks')
    assert test['train_dataloader'] is None and test['val_dataloader'] is None  # test only
    assert test['model'] == train['model']  # any arm's checkpoint loads into it
    assert test['test_evaluator']['dbd_protocols'] == ['dd']


def test_afiu_transfer_arms_differ_only_in_their_starting_weights():
    dbd, ft, sod = _load(AFIU_DBD), _load(AFIU_FT), _load(AFIU_SOD)
    _dbd_protocol(dbd)
    # load_from replaces every weight, so the fine-tune arm does not read the ImageNet file first
    assert _diff(dbd, ft) == {'load_from', 'model.backbone.init_cfg'}
    assert ft['model']['backbone']['init_cfg'] is None
    assert ft['load_from'] == 'work_dirs/cpu_experiment/afiu_sod/iter_300.pth'
    assert sod['train_cfg']['max_iters'] == 300  # the SOD step writes iter_300.pth
    assert sod['model'] == dbd['model']  # the whole SOD model loads into the DBD arm
    train, test = sod['train_dataloader']['dataset'], sod['test_dataloader']['dataset']
    assert (train['data_root'], train['ann_file']) == (PASCAL_S, 'train.txt')
    assert (test['data_root'], test['ann_file']) == (PASCAL_S, 'test.txt')
    _dut_test(AFIU_DUT, AFIU_DBD)


# ----------------------------------------------------------------------- real-time model arms
RT_BCE = RT + '1xb8-bce-400it_synthetic-defocus-pascal-s-192x192.py'
RT_SOD = RT + '1xb8-bce-400it_pascal-s-192x192.py'
RT_FT = RT + '1xb8-bce-400it_sod2dbd_synthetic-defocus-pascal-s-192x192.py'
RT_SELF = RT + '1xb8-bce-self-400it_synthetic-defocus-pascal-s-192x192.py'
RT_HARD_SOD = RT + '1xb8-bce-self-hard-sod-400it_synthetic-defocus-pascal-s-192x192.py'
RT_HARD_FT = RT + '1xb8-bce-self-hard-ft-400it_synthetic-defocus-pascal-s-192x192.py'
RT_DUT = RT + 'test_dut-dbd-dev5-192x192.py'
SWAP = {'model.type', 'model.self_supervision', 'model.patch_size', 'model.lambda_self'}
HARD = SWAP | {
    'model.hard_mining', 'model.w_hard', 'train_dataloader.dataset.data_prefix.saliency_map_path'
}


def test_realtime_transfer_arms_differ_only_in_their_starting_weights():
    bce, ft, sod = _load(RT_BCE), _load(RT_FT), _load(RT_SOD)
    _dbd_protocol(bce)
    assert _diff(bce, ft) == {'load_from', 'model.backbone.encoder.init_cfg'}
    assert ft['model']['backbone']['encoder']['init_cfg'] is None
    assert ft['load_from'] == 'work_dirs/cpu_experiment/gradunet-lite_sod/iter_400.pth'
    assert sod['train_cfg']['max_iters'] == 400 and sod['model'] == bce['model']
    assert sod['train_dataloader']['dataset']['ann_file'] == 'train.txt'
    assert sod['test_dataloader']['dataset']['ann_file'] == 'test.txt'
    _dut_test(RT_DUT, RT_BCE)


@pytest.mark.parametrize(
    'path,keys,saliency', [(RT_SELF, SWAP, None), (RT_HARD_SOD, HARD, 'saliency_afiu'),
                           (RT_HARD_FT, HARD, 'saliency_ft')],
    ids=['self', 'hard-sod', 'hard-ft'])
def test_realtime_loss_arms_differ_only_in_the_loss(path, keys, saliency):
    bce, arm = _load(RT_BCE), _load(path)
    assert _diff(bce, arm) == keys
    model = arm['model']
    assert (model['type'], model['self_supervision'], model['patch_size'],
            model['lambda_self']) == ('PatchSwapEncoderDecoder', True, 40, 0.2)
    prefix = arm['train_dataloader']['dataset']['data_prefix']
    assert prefix.get('saliency_map_path') == saliency
    if saliency:
        assert (model['hard_mining'], model['w_hard']) == (True, 2.0)


def test_the_two_hard_mining_arms_differ_only_in_the_saliency_maps():
    assert _diff(_load(RT_HARD_SOD),
                 _load(RT_HARD_FT)) == {'train_dataloader.dataset.data_prefix.saliency_map_path'}


# --------------------------------------------------------------------------------------- DD
DD_FULL = osp.join(DD, 'dd_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py')
DD_G0 = osp.join(DD, 'dd-gamma0_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py')
DD_NOSAB = osp.join(DD, 'dd-nosab_effnet-lite0_1xb8-300it_synthetic-defocus-160x160.py')
DD_DUT = osp.join(DD, 'dd_effnet-lite0_test_dut-dbd-dev5-160x160.py')


def test_dd_arms_differ_only_in_gamma_or_sab():
    full, g0, nosab = _load(DD_FULL), _load(DD_G0), _load(DD_NOSAB)
    _dbd_protocol(full)
    # the teacher depth is the renderer's depth of the same renders
    assert full['train_dataloader']['dataset']['data_prefix']['depth_map_path'] == 'depth'
    assert full['model']['decode_head']['loss_depth']['loss_weight'] == 0.1
    assert full['model']['decode_head']['use_sab'] is True
    assert _diff(full, g0) == {'model.decode_head.loss_depth.loss_weight'}
    assert g0['model']['decode_head']['loss_depth']['loss_weight'] == 0.0
    assert _diff(full, nosab) == {'model.decode_head.use_sab'}
    assert nosab['model']['decode_head']['use_sab'] is False
    _dut_test(DD_DUT, DD_FULL)


# -------------------------------------------------------------------------------------- A2S
A2S_OLR = osp.join(A2S, 'a2s-stage2_effnet-lite0_1xb8-4e_pascal-s-224x224.py')
A2S_NOOLR = osp.join(A2S, 'a2s-stage2-noolr_effnet-lite0_1xb8-4e_pascal-s-224x224.py')


def test_a2s_olr_off_arm_keeps_lambda_one_in_every_epoch():
    from dbdseg.engine.hooks import OLRHook
    on, off = _load(A2S_OLR), _load(A2S_NOOLR)
    assert _diff(on, off) == {'custom_hooks'}
    hooks_on = [h for h in on['custom_hooks'] if h['type'] == 'OLRHook']
    hooks_off = [h for h in off['custom_hooks'] if h['type'] == 'OLRHook']
    assert len(hooks_on) == len(hooks_off) == 1
    assert [h for h in on['custom_hooks'] if h['type'] != 'OLRHook'] == \
        [h for h in off['custom_hooks'] if h['type'] != 'OLRHook']
    epochs = range(off['train_cfg']['max_epochs'])
    kwargs = {k: v for k, v in hooks_off[0].items() if k != 'type'}
    assert [OLRHook(**kwargs).lambda_at(e) for e in epochs] == [1.0] * len(epochs)
    kwargs = {k: v for k, v in hooks_on[0].items() if k != 'type'}
    assert [OLRHook(**kwargs).lambda_at(e) for e in epochs] == [1.0, 1.0, 0.4, 0.4]
    assert _diff(dict(h=hooks_on[0]), dict(h=hooks_off[0])) == {'h.warmup_epochs'}
