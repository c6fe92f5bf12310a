"""Write a synthetic defocus dataset to disk.

Output folder layout (masks: 255 = in-focus, 0 = blurred, docs/en/conventions.md)::

    OUT/images/<stem>.jpg    rendered photo: the JPEG of the finish step, written verbatim
                             (quality 100 when the config's JPEG step is off)
    OUT/masks/<stem>.png     8-bit {0, 255}; 255 = in-focus
    OUT/depth/<stem>.png     16-bit depth of the visible surface, normalised per image:
                             (d - d_min) / (d_max - d_min) * 65535, larger = farther (0 everywhere
                             when the depth is constant); d_min / d_max (scene units) in the JSON
    OUT/train.txt, val.txt   stems, one per line; train and val never share a scene
    OUT/render_params.json   {"settings": global settings,
                              "scenes": {"train": [...], "val": [...]},
                              "images": {stem: per-image parameters}}

Stems are ``<scene>_<NNNN>``. Render ``i`` of scene ``s`` uses ``np.random.default_rng([seed,
crc32(s), i])``, so the outputs are byte-identical for a seed whatever the number of workers, and
adding a scene does not change the renders of the others.
"""
import json
import os
import shutil
import time
import zlib
from typing import Optional

import cv2
import numpy as np

from .config import DefocusRenderConfig
from .render import render_sample
from .sources import (BUNDLED_ORIGINS, Scene, bundled_scenes, folder_scenes, read_image, read_mask,
                      safe_scene_name)

__all__ = ['synthesize_dataset', 'split_scenes', 'OUTPUT_ITEMS']

#: What :func:`synthesize_dataset` writes (and removes first with ``overwrite``).
OUTPUT_ITEMS = ('images', 'masks', 'depth', 'train.txt', 'val.txt', 'render_params.json')

_STATE = {}


def _to_scenes(sources, src_masks=None, skip_bad=False):
    """Normalise ``sources`` to a list of :class:`Scene`; returns ``(scenes, bad)``."""
    if sources is None or (isinstance(sources, str) and sources == 'bundled'):
        sources = bundled_scenes()
    elif isinstance(sources, (str, os.PathLike)):
        return folder_scenes(os.fspath(sources), src_masks, skip_bad=skip_bad)
    scenes = []
    for item in sources:
        if isinstance(item, Scene):
            scenes.append(item)
            continue
        name, images = item[0], list(item[1])
        masks = list(item[2]) if len(item) > 2 and item[2] is not None else []
        origins = list(BUNDLED_ORIGINS.get(name, []))
        if len(origins) != len(images):
            origins = []  # Scene names arrays '<scene>[i]' and keeps paths
        scenes.append(Scene(safe_scene_name(name), images, masks, origins))
    names = [s.name for s in scenes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'duplicate scene names {dup}: each scene must appear once')
    if not scenes:
        raise ValueError('no source scenes given')
    return scenes, []


def split_scenes(names, val_scenes, seed):
    """Choose the validation scenes.

    Args:
        names (list[str]): all scene names (unique).
        val_scenes (int | float | list[str]): a count (int >= 0), a fraction in (0, 1) of the scenes
            (rounded, at least 1), or explicit scene names.
        seed (int): the choice of a count/fraction is a seeded permutation of the sorted names.

    Returns:
        tuple: ``(train names, val names)``, each in the order of ``names``.

    Raises:
        ValueError: unknown names, a negative count, or no scene left for training.
    """
    n = len(names)
    if isinstance(val_scenes, (list, tuple)):
        unknown = sorted(set(val_scenes) - set(names))
        if unknown:
            raise ValueError(f'validation scene(s) {unknown} are not among the scenes {names}')
        chosen = set(val_scenes)
    else:
        if isinstance(val_scenes, float) and not float(val_scenes).is_integer():
            if not 0 < val_scenes < 1:
                raise ValueError(f'val_scenes fraction must be in (0, 1), got {val_scenes}')
            count = max(1, int(round(val_scenes * n)))
        else:
            count = int(val_scenes)
        if count < 0:
            raise ValueError(f'val_scenes must be >= 0, got {val_scenes}')
        if count >= n:
            raise ValueError(
                f'cannot hold out {count} of {n} scene(s) for validation: at least one '
                'scene must remain for training (pass val_scenes=0 to make no validation '
                'split)')
        order = np.random.default_rng([int(seed), 0x5A11]).permutation(sorted(names))
        chosen = set(order[:count].tolist())
    if len(chosen) >= n:
        raise ValueError('at least one scene must remain for training')
    return [s for s in names if s not in chosen], [s for s in names if s in chosen]


def _check_out_dir(out_dir, overwrite):
    """Raise a clear error if ``out_dir`` cannot be used (nothing is modified)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f'output path {out_dir} exists and is not a folder')
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f'output folder {out_dir} is not empty; pass overwrite=True '
                              '(--overwrite) to replace its dataset files')
    parent = os.path.abspath(out_dir)
    while not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise NotADirectoryError(f'cannot create output folder {out_dir}: {parent} is not a folder')
    if os.path.isdir(parent) and not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f'output folder {out_dir} is not writable ({parent})')


def _prepare_out_dir(out_dir):
    try:
        os.makedirs(out_dir, exist_ok=True)
        for item in OUTPUT_ITEMS:
            path = os.path.join(out_dir, item)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
        for sub in ('images', 'masks', 'depth'):
            os.makedirs(os.path.join(out_dir, sub))
        probe = os.path.join(out_dir, 'images', '.write_probe')
        with open(probe, 'wb') as f:
            f.write(b'')
        os.remove(probe)
    except OSError as exc:
        raise PermissionError(f'output folder {out_dir} is not writable: {exc}') from exc


def _init_worker(state):
    # No cv2.setNumThreads here: in a forked child it would join the parent's OpenCV worker threads,
    # which do not exist there (hangs). The parent sets 1 thread before forking instead.
    _STATE.clear()
    _STATE.update(state)
    _STATE['cache'] = {}


def _load(item, kind):
    if item is None or isinstance(item, np.ndarray):
        return item
    cache = _STATE['cache']
    key = (kind, item)
    if key not in cache:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        cache[key] = read_image(item) if kind == 'image' else read_mask(item)
    return cache[key]


def _encode(ext, array, params=()):
    ok, buf = cv2.imencode(ext, array, list(params))
    if not ok:  # pragma: no cover - cv2 failure
        raise RuntimeError(f'encoding {ext} failed')
    return buf.tobytes()


def _render_task(task):
    """Render one image and write its three files; returns its JSON parameters."""
    cfg, out_dir, scenes = _STATE['cfg'], _STATE['out_dir'], _STATE['scenes']
    scene = scenes[task['scene_index']]
    rng = np.random.default_rng(task['seed'])
    j = int(rng.integers(len(scene.images)))
    image = _load(scene.images[j], 'image')
    mask = _load(scene.masks[j], 'mask')
    out = render_sample(image, rng, cfg, object_mask=mask)
    stem = task['stem']
    jpeg = out['jpeg_bytes']
    if jpeg is None:
        jpeg = _encode('.jpg', cv2.cvtColor(out['image'], cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 100])
    depth = out['depth'].astype(np.float64)
    d_min, d_max = float(depth.min()), float(depth.max())
    if d_max > d_min:
        depth16 = np.round((depth - d_min) / (d_max - d_min) * 65535.0).astype(np.uint16)
    else:
        depth16 = np.zeros(depth.shape, np.uint16)
    files = (('images', '.jpg', jpeg), ('masks', '.png', _encode('.png', out['mask'])),
             ('depth', '.png', _encode('.png', depth16)))
    for sub, ext, data in files:
        with open(os.path.join(out_dir, sub, stem + ext), 'wb') as f:
            f.write(data)
    params = dict(
        stem=stem,
        split=task['split'],
        scene=scene.name,
        source=scene.origins[j],
        source_index=j,
        seed=list(task['seed']))
    params.update(out['params'])
    return task['index'], params


def synthesize_dataset(sources=None,
                       out_dir='data/synthetic_defocus',
                       *,
                       num_per_scene=100,
                       size=None,
                       seed=0,
                       val_scenes=1,
                       workers=2,
                       overwrite=False,
                       cfg: Optional[DefocusRenderConfig] = None,
                       val_per_scene=None,
                       src_masks=None,
                       skip_bad=False,
                       progress=True):
    """Render a synthetic defocus dataset (train/val split by scene) into ``out_dir``.

    Args:
        sources: None or ``'bundled'`` (:func:`bundled_scenes`), a folder path
            (:func:`folder_scenes`), or a list of :class:`Scene` / ``(name, [images])`` / ``(name,
            [images], [masks])`` where images are uint8 RGB arrays or file paths.
        out_dir (str): output folder (layout in the module docstring).
        num_per_scene (int): renders per training scene (random crop/flip/scale and layout each).
        size (tuple[int, int], optional): output ``(H, W)``; overrides ``cfg.out_size``.
        seed (int): global seed (>= 0).
        val_scenes (int | float | list[str]): validation scenes, see :func:`split_scenes`.
        workers (int): rendering processes (1 = in this process). Outputs do not depend on it.
        overwrite (bool): allow a non-empty ``out_dir``; the dataset items (:data:`OUTPUT_ITEMS`)
            are removed first, other files are left alone.
        cfg (DefocusRenderConfig, optional): render settings (defaults if None).
        val_per_scene (int, optional): renders per validation scene (default ``num_per_scene``).
        src_masks (str, optional): object-mask folder for a folder source.
        skip_bad (bool): skip unreadable source files (listed in the result) instead of raising.
        progress (bool): show a tqdm progress bar.

    Returns:
        dict: summary - ``out_dir``, ``counts`` {train, val}, ``scenes`` {train, val},
        ``in_focus_mean`` {train, val, all} (mean in-focus pixel fraction), ``seconds``, ``bad``
        (skipped files), ``size``.

    Raises:
        FileNotFoundError: a source folder does not exist (message names it).
        ValueError: no (readable) images in the source folder, bad arguments.
        ImageReadError: an unreadable source file without ``skip_bad`` (message names it).
        FileExistsError: ``out_dir`` not empty and not ``overwrite``.
        NotADirectoryError: ``out_dir`` or one of its parents is a file.
        PermissionError: ``out_dir`` cannot be created or written.
    """
    start = time.perf_counter()
    cfg = cfg or DefocusRenderConfig()
    if size is not None:
        cfg = cfg.replace(out_size=(int(size[0]), int(size[1])))
    if int(num_per_scene) < 1:
        raise ValueError(f'num_per_scene must be >= 1, got {num_per_scene}')
    val_per_scene = int(num_per_scene if val_per_scene is None else val_per_scene)
    if int(seed) < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    out_dir = os.fspath(out_dir)
    _check_out_dir(out_dir, overwrite)
    scenes, bad = _to_scenes(sources, src_masks, skip_bad)
    names = [s.name for s in scenes]
    train_names, val_names = split_scenes(names, val_scenes, seed)
    val_set = set(val_names)

    tasks = []
    for si, scene in enumerate(scenes):
        split = 'val' if scene.name in val_set else 'train'
        key = zlib.crc32(scene.name.encode('utf-8'))
        for i in range(val_per_scene if split == 'val' else int(num_per_scene)):
            tasks.append(
                dict(
                    index=len(tasks),
                    scene_index=si,
                    split=split,
                    stem=f'{scene.name}_{i:04d}',
                    seed=(int(seed), key, i)))
    _prepare_out_dir(out_dir)

    state = dict(cfg=cfg, out_dir=out_dir, scenes=scenes)
    results = [None] * len(tasks)
    from tqdm import tqdm
    bar = tqdm(total=len(tasks), desc='synthesize defocus', unit='img', disable=not progress)
    workers = max(1, int(workers))
    # OpenCV runs single-threaded while rendering: the same code path whatever ``workers`` is, and a
    # forked child inherits a pool without worker threads (safe to fork).
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        if workers == 1 or len(tasks) == 1:
            _init_worker(state)
            for task in tasks:
                idx, params = _render_task(task)
                results[idx] = params
                bar.update(1)
        else:
            import multiprocessing as mp
            methods = mp.get_all_start_methods()
            ctx = mp.get_context('fork') if 'fork' in methods else mp.get_context()
            chunk = max(1, min(16, len(tasks) // (workers * 4)))
            with ctx.Pool(workers, initializer=_init_worker, initargs=(state, )) as pool:
                for idx, params in pool.imap_unordered(_render_task, tasks, chunksize=chunk):
                    results[idx] = params
                    bar.update(1)
    finally:
        cv2.setNumThreads(threads)
        _STATE.clear()
        bar.close()

    split_stems = {'train': [], 'val': []}
    for p in results:
        split_stems[p['split']].append(p['stem'])
    for split, stems in split_stems.items():
        with open(os.path.join(out_dir, f'{split}.txt'), 'w') as f:
            f.write(''.join(s + '\n' for s in stems))
    settings = dict(
        generator='dbdseg.datasets.synthesis',
        seed=int(seed),
        size=[int(v) for v in cfg.out_size],
        num_per_scene=int(num_per_scene),
        val_per_scene=val_per_scene,
        conventions=dict(
            mask='8-bit PNG, 255 = in-focus, 0 = blurred',
            depth='16-bit PNG, visible-surface depth normalised per image to [0, 65535], larger = '
            'farther; depth = depth_min + v / 65535 * (depth_max - depth_min) in scene units',
            image='JPEG, the finish step of the renderer',
            seeds='render i of scene s: numpy default_rng([seed, crc32(s), i])'),
        config=cfg.to_dict(),
        sources={s.name: s.origins
                 for s in scenes},
        skipped_sources=list(bad),
    )
    doc = dict(
        settings=settings,
        scenes=dict(train=train_names, val=val_names),
        images={p['stem']: p
                for p in results})
    with open(os.path.join(out_dir, 'render_params.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')

    fractions = {
        k: [p['in_focus_fraction'] for p in results if p['split'] == k]
        for k in ('train', 'val')
    }
    every = fractions['train'] + fractions['val']
    return dict(
        out_dir=out_dir,
        size=[int(v) for v in cfg.out_size],
        counts={
            k: len(v)
            for k, v in split_stems.items()
        },
        scenes=dict(train=train_names, val=val_names),
        in_focus_mean={
            k: (float(np.mean(v)) if v else None)
            for k, v in dict(fractions, all=every).items()
        },
        seconds=time.perf_counter() - start,
        bad=list(bad),
    )
