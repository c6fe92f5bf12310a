"""GPU counterparts of tests/test_apis/test_inference.py: ``device='cuda'`` in dbdseg.apis."""
import numpy as np
import pytest
import torch
from dbdseg_tests_cuda_helpers import cuda_marks

from dbdseg.apis import inference_model, init_model
from dbdseg.apis.inference import Teacher

pytestmark = cuda_marks()


@pytest.fixture(autouse=True)
def no_tf32(monkeypatch):
    """Full float32 convolutions: TF32 (cuDNN's default on Ampere and newer) rounds at 1e-3."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(torch.backends.cuda.matmul, 'allow_tf32', False)


@pytest.fixture(scope='module')
def models(tiny_cuda_project):
    cfg, ckpt = tiny_cuda_project['config'], tiny_cuda_project['checkpoint']
    return init_model(cfg, ckpt, device='cuda'), init_model(cfg, ckpt, device='cpu')


def test_init_model_on_cuda(models):
    gpu, cpu = models
    assert not gpu.training
    assert {p.device.type for p in gpu.parameters()} == {'cuda'}
    assert {b.device.type for b in gpu.buffers()} == {'cuda'}
    for (name, a), (_, b) in zip(gpu.state_dict().items(), cpu.state_dict().items()):
        assert torch.equal(a.cpu(), b), name


def test_inference_on_cuda_matches_cpu(models):
    gpu, cpu = models
    h, w = 29, 47
    img = np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)
    res_gpu = inference_model(gpu, img)
    res_cpu = inference_model(cpu, img)
    prob_gpu = res_gpu.seg_logits.data
    assert prob_gpu.shape == (1, h, w) and prob_gpu.dtype == torch.float32
    assert float(prob_gpu.min()) >= 0.0 and float(prob_gpu.max()) <= 1.0
    # cuDNN and the CPU kernels sum in different orders: equal up to float32 rounding
    assert torch.allclose(prob_gpu.cpu(), res_cpu.seg_logits.data, atol=1e-4)
    assert res_gpu.pred_sem_seg.data.shape == (1, h, w)


def test_batched_inference_on_cuda(models):
    gpu, _ = models
    rng = np.random.default_rng(4)
    imgs = [rng.integers(0, 256, (24, 36, 3), dtype=np.uint8) for _ in range(3)]
    results = inference_model(gpu, imgs)
    assert len(results) == 3
    one = inference_model(gpu, imgs[1])
    assert torch.allclose(results[1].seg_logits.data.cpu(), one.seg_logits.data.cpu(), atol=1e-4)


def test_teacher_on_cuda(tiny_cuda_project):
    teacher = Teacher(tiny_cuda_project['config'], tiny_cuda_project['checkpoint'], device='cuda')
    assert next(teacher.model.parameters()).device.type == 'cuda'
