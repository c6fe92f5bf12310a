"""The validation split carved from a DBD training set, so that model selection never sees the
test set.

The DBD papers (BTBNet, DD, AFIU, ...) validate on the test folders and keep the best checkpoint:
model selection on the test set. dbdseg's DBD configs validate on a fixed, seeded subset of each
training set instead and test on the test split:

* CUHK (Shi et al., CVPR 2014): 60 of the 604 training images (544 train / 60 val / 100 test);
  the list ships as ``tools/dataset_converters/splits/cuhk_dbd_val60.txt``;
* DUT (Zhao et al., CVPR 2018): 60 of the 600 training images (540 / 60 / 500); drawn by the
  converter with the same procedure from the release's file names.

Procedure (:func:`draw_validation_split`, our choice; no paper defines a validation split): sort
the training stems by name, ``random.Random(seed).sample(sorted_stems, n)`` with ``seed = 0`` and
``n = 60``, and sort the sample. The converters write ``OUT/splits/train.txt`` (the other training
stems) and ``OUT/splits/val.txt`` (one stem per line), which the dataset configs read as
``ann_file``; :func:`write_validation_split` does it for a folder converted before the split existed
(``tools/dataset_converters/validation_split.py``). The papers' practice (train on every training
image, validate on the test split) stays available as a named option of the configs
(``val_on_test_train`` / ``val_on_test_val``; see the config folders' READMEs).
"""
import os.path as osp
import random
from typing import Dict, Iterable, List, Optional

from dbdseg.utils.fileio import atomic_write_text

__all__ = [
    'VAL_SPLIT_SEED', 'VAL_SPLIT_SIZE', 'TRAIN_LIST', 'VAL_LIST', 'draw_validation_split',
    'write_validation_split', 'read_stem_list'
]

#: seed of :func:`draw_validation_split`
VAL_SPLIT_SEED = 0
#: images drawn from each DBD training set
VAL_SPLIT_SIZE = 60
#: the split files, relative to the dataset root (the configs' ``ann_file``)
TRAIN_LIST = 'splits/train.txt'
VAL_LIST = 'splits/val.txt'


def draw_validation_split(stems: Iterable[str],
                          n: int = VAL_SPLIT_SIZE,
                          seed: int = VAL_SPLIT_SEED) -> List[str]:
    """Draw ``n`` validation stems from a training set, reproducibly.

    Args:
        stems (Iterable[str]): the training stems (file names without suffix); duplicates are
            counted once.
        n (int): how many to draw. Defaults to 60.
        seed (int): seed of :class:`random.Random`. Defaults to 0.

    Returns:
        list[str]: ``sorted(Random(seed).sample(sorted(set(stems)), n))``.

    Raises:
        ValueError: ``n`` is not in ``1 .. len(stems) - 1`` (training must keep an image).
    """
    pool = sorted(set(stems))
    if not 0 < n < len(pool):
        raise ValueError(f'cannot draw {n} validation images from {len(pool)} training images')
    return sorted(random.Random(seed).sample(pool, n))


def read_stem_list(path: str) -> List[str]:
    """Stems of a list file (one name per line, image suffix optional, blank lines skipped).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    return [
        osp.splitext(n)[0] if osp.splitext(n)[1].lower() in ('.jpg', '.jpeg', '.png', '.bmp') else n
        for n in names
    ]


def write_validation_split(out: str,
                           train_stems: Iterable[str],
                           val_stems: Optional[Iterable[str]] = None,
                           source: Optional[str] = None,
                           n: int = VAL_SPLIT_SIZE,
                           seed: int = VAL_SPLIT_SEED) -> Dict[str, object]:
    """Write ``out/splits/train.txt`` and ``out/splits/val.txt`` (atomically).

    Args:
        out (str): the converted dataset root.
        train_stems (Iterable[str]): every stem of the training split.
        val_stems (Iterable[str], optional): the validation stems (a shipped list); each must be
            a training stem. Defaults to None (drawn with :func:`draw_validation_split`).
        source (str, optional): where ``val_stems`` came from, recorded. Defaults to None.
        n (int): images to draw when ``val_stems`` is None. Defaults to 60.
        seed (int): seed of the draw. Defaults to 0.

    Returns:
        dict: what was written (files, counts, the procedure or the list used), for the
        conversion report.

    Raises:
        ValueError: a validation stem that is not a training stem (names up to 10); an
            impossible draw.
    """
    train_stems = sorted(set(train_stems))
    if val_stems is None:
        val = draw_validation_split(train_stems, n, seed)
        how = f'drawn: sorted(random.Random({seed}).sample(sorted(train stems), {n}))'
    else:
        val = sorted(set(val_stems))
        unknown = [s for s in val if s not in set(train_stems)]
        if unknown:
            raise ValueError(f'{len(unknown)} validation stem(s) of {source or "the list"} are not '
                             f'training images of {out!r}: {unknown[:10]}')
        how = f'list {source}' if source else 'list'
    keep = [s for s in train_stems if s not in set(val)]
    atomic_write_text(osp.join(out, TRAIN_LIST), '\n'.join(keep) + '\n')
    atomic_write_text(osp.join(out, VAL_LIST), '\n'.join(val) + '\n')
    print(f'validation split: {len(val)} of {len(train_stems)} training images -> '
          f'{osp.join(out, VAL_LIST)} ({how}); the other {len(keep)} -> '
          f'{osp.join(out, TRAIN_LIST)}')
    return dict(
        train_list=TRAIN_LIST,
        val_list=VAL_LIST,
        counts=dict(train=len(keep), val=len(val)),
        procedure=how)
