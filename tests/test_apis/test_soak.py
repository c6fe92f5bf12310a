"""Soak test: inference_model over a stream of a few hundred small images keeps memory flat.

Resident memory (RSS, from ``/proc/self/statm``; psutil is not a dependency) is sampled every
``STEP`` images after a warm-up; the growth from the first sample after warm-up to the largest later
sample must stay under ``BOUND_MB`` and the slope over the second half of the stream under
``BOUND_KIB_PER_IMAGE`` (keeping every result alive, a leak of about 10 KiB per image here, breaks
both). Bounded in time: the stream stops after ``MAX_SECONDS`` (at
least ``MIN_IMAGES`` must have been processed). Images alternate between arrays of varying sizes
and files on disk, so the file-loading path and the shape-dependent paths both run.

With ``DBDSEG_H9_REPORT_DIR`` set, the figures are written there as ``soak.json``.
"""
import gc
import json
import os
import os.path as osp
import time

import cv2
import numpy as np
import pytest
import torch

import dbdseg_tests_tiny_project as tiny  # registered by tests/conftest.py
from dbdseg.apis import inference_model, init_model

N_IMAGES = 400
WARMUP = 60
STEP = 20
BOUND_MB = 4.0
BOUND_KIB_PER_IMAGE = 4.0  # slope over the second half of the stream
MAX_SECONDS = 40.0
MIN_IMAGES = 200
LEAK = None  # set to [] to simulate a leak


def rss_mb():
    """Resident set size of this process in MiB (Linux ``/proc/self/statm``)."""
    with open('/proc/self/statm') as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf('SC_PAGE_SIZE') / 2**20


@pytest.mark.skipif(not osp.exists('/proc/self/statm'), reason='needs /proc/self/statm (Linux)')
def test_inference_memory_stays_flat(tiny_model_files, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = init_model(tiny_model_files['config'], tiny_model_files['checkpoint'])
        rng = np.random.default_rng(0)
        files = []
        for i in range(16):
            path = str(tmp_path / f'img_{i:02d}.png')
            cv2.imwrite(
                path, tiny.make_image(int(rng.integers(12, 40)), int(rng.integers(12, 40)), seed=i))
            files.append(path)
        samples, t0, n = [], time.perf_counter(), 0
        for n in range(1, N_IMAGES + 1):
            if n % 2:
                h, w = int(rng.integers(12, 48)), int(rng.integers(12, 48))
                img = tiny.make_image(h, w, seed=n)
                result = inference_model(model, img)
                assert tuple(result.seg_logits.data.shape) == (1, h, w)
            else:
                result = inference_model(model, files[n % len(files)])
            prob = result.seg_logits.data
            assert 0.0 <= float(prob.min()) and float(prob.max()) <= 1.0
            if LEAK is not None:  # only for checking that the test can fail
                LEAK.append(result)
            del result, prob
            if n >= WARMUP and n % STEP == 0:
                gc.collect()
                samples.append((n, rss_mb()))
            if time.perf_counter() - t0 > MAX_SECONDS:
                break
        elapsed = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    assert n >= MIN_IMAGES, f'only {n} images in {MAX_SECONDS} s'
    base = samples[0][1]
    growth = max(mb for _, mb in samples) - base
    tail_slope = (samples[-1][1] - samples[len(samples) // 2][1]) / max(
        samples[-1][0] - samples[len(samples) // 2][0], 1) * 1024  # KiB per image, second half
    figures = dict(
        images=n,
        seconds=round(elapsed, 2),
        rss_after_warmup_mb=round(base, 2),
        rss_max_mb=round(max(mb for _, mb in samples), 2),
        growth_mb=round(growth, 3),
        bound_mb=BOUND_MB,
        second_half_kib_per_image=round(tail_slope, 3),
        samples=[(i, round(mb, 2)) for i, mb in samples])
    if os.environ.get('DBDSEG_H9_REPORT_DIR'):
        with open(osp.join(os.environ['DBDSEG_H9_REPORT_DIR'], 'soak.json'), 'w') as f:
            json.dump(figures, f, indent=2)
    assert growth < BOUND_MB, figures
    assert tail_slope < BOUND_KIB_PER_IMAGE, figures
    assert set(getattr(model, '_dbdseg_inference_pipelines')) == {  # one cached pipeline set
        'load_file', 'load_array', 'rest', 'rest_no_resize', 'resize_cfg'
    }
