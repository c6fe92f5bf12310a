"""Several test (or val) sets in one dataloader, reported set by set."""
import copy
from collections import Counter
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset, ConcatDataset

from dbdseg.registry import DATASETS


def _same(a, b) -> bool:
    """Equality as mmengine's ConcatDataset checks metainfo values (arrays compared by value)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return a == b


@DATASETS.register_module()
class MultiSetDataset(ConcatDataset):
    """Concatenation of named binary-map datasets, one evaluation block per set.

    Extends :class:`mmengine.dataset.ConcatDataset`: index ``i`` runs through the first dataset,
    then the second, ... (the order of ``datasets``). Each sample keeps its dataset's
    ``set_name`` in its data info, and :class:`~dbdseg.datasets.transforms.PackBinarySegInputs`
    copies it into ``data_samples.metainfo['set_name']``; ``SODMetric`` groups its results by
    it (keys ``'<set_name>/maxF'``, predictions under ``<out>/<set_name>/``). Used as the
    ``test_dataloader`` (or ``val_dataloader``) dataset of the benchmark configs, e.g.
    ``configs/_base_/datasets/sod_benchmarks.py``::

        dict(type='MultiSetDataset', datasets=[
            dict(type='ECSSDDataset', data_root='data/ecssd', ...),
            dict(type='HKUISDataset', data_root='data/hku_is', ...)])

    ``metainfo`` is the first dataset's metainfo plus ``set_names`` (list of str, in dataset
    order). All datasets must have the same metainfo (apart from ``ignore_keys``), in
    particular the same ``classes``: one task per run (DBD sets with DBD sets, SOD sets with
    SOD sets).

    Args:
        datasets (Sequence[dict | BaseDataset]): The sets, as configs (built here through
            dbdseg's ``DATASETS`` registry, scope ``mmseg``) or built datasets. Each must be a
            :class:`~dbdseg.datasets.BinarySegDataset` (anything with a ``set_name``).
        set_names (Sequence[str], optional): One name per dataset. A config gets
            ``set_name=<name>`` before it is built (replacing its own); a built dataset must
            already have that ``set_name``. Defaults to None (the datasets' own names).
        lazy_init (bool): Defer loading the data lists, as ``ConcatDataset``. Defaults to False.
        ignore_keys (str | list[str], optional): Metainfo keys allowed to differ, as
            ``ConcatDataset``. Defaults to None.

    Raises:
        ValueError: no datasets; ``set_names`` whose length differs from ``datasets``; a built
            dataset whose ``set_name`` differs from the given name; empty or duplicate set names
            (the duplicates are listed); two sets with different metainfo, e.g. a DBD and a SOD
            set (the message names both sets).
        TypeError: a dataset (or a built config) without ``set_name``, i.e. not a
            ``BinarySegDataset``; ``set_names`` given as a single string.
    """

    def __init__(self,
                 datasets: Sequence[Union[dict, BaseDataset]],
                 set_names: Optional[Sequence[str]] = None,
                 lazy_init: bool = False,
                 ignore_keys: Union[str, List[str], None] = None) -> None:
        datasets = list(datasets)
        if not datasets:
            raise ValueError('MultiSetDataset: datasets is empty; give at least one dataset')
        if set_names is not None:
            if isinstance(set_names, str):
                raise TypeError(f'MultiSetDataset: set_names must be a sequence of names, one '
                                f'per dataset, got the string {set_names!r}')
            set_names = list(set_names)
            if len(set_names) != len(datasets):
                raise ValueError(
                    f'MultiSetDataset: set_names has {len(set_names)} names {set_names} for '
                    f'{len(datasets)} datasets; give one name per dataset')

        built = []
        for i, dataset in enumerate(datasets):
            if isinstance(dataset, dict):
                cfg = copy.deepcopy(dataset)
                if set_names is not None:
                    cfg['set_name'] = set_names[i]
                dataset = DATASETS.build(cfg)
            if not isinstance(dataset, BaseDataset):
                raise TypeError(f'MultiSetDataset: dataset {i} must be a dataset config (dict) or '
                                f'a BinarySegDataset, got {type(dataset).__name__}')
            if not isinstance(getattr(dataset, 'set_name', None), str):
                raise TypeError(
                    f'MultiSetDataset: dataset {i} ({type(dataset).__name__}) has no set_name; '
                    'every set must be a BinarySegDataset (or one of the named datasets)')
            if set_names is not None and dataset.set_name != set_names[i]:
                raise ValueError(
                    f'MultiSetDataset: dataset {i} ({type(dataset).__name__}) is already built '
                    f'with set_name {dataset.set_name!r}, but set_names[{i}] is '
                    f'{set_names[i]!r}; build it with set_name={set_names[i]!r} or pass its '
                    'config instead')
            built.append(dataset)

        names = [d.set_name for d in built]
        empty = [i for i, n in enumerate(names) if not n.strip()]
        if empty:
            raise ValueError(f'MultiSetDataset: datasets {empty} have an empty set_name')
        dups = sorted(n for n, c in Counter(names).items() if c > 1)
        if dups:
            raise ValueError(
                f'MultiSetDataset: set names must be unique, {dups} occur more than once in '
                f'{names}; give each set its own set_name (argument set_names or each '
                "dataset's set_name)")
        self._set_names = names

        ignore = [ignore_keys] if isinstance(ignore_keys, str) else list(ignore_keys or [])
        self._check_same_task(built, ignore)
        try:
            super().__init__(built, lazy_init=lazy_init, ignore_keys=ignore_keys)
        except (ValueError, TypeError) as e:  # not expected after the check above
            raise ValueError(
                f'MultiSetDataset: the sets {names} do not share their metainfo ({e}); they '
                'must be the same task (DBD sets with DBD sets, SOD sets with SOD sets)') from e
        self._metainfo = dict(self._metainfo, set_names=list(names))

    def _check_same_task(self, datasets: list, ignore: list) -> None:
        """Compare every set's metainfo with the first one's; name the two sets on a mismatch."""
        first = datasets[0]
        for dataset in datasets[1:]:
            keys = (set(first.metainfo) | set(dataset.metainfo)) - set(ignore)
            differ = sorted(
                k for k in keys if k not in first.metainfo or k not in dataset.metainfo
                or not _same(first.metainfo[k], dataset.metainfo[k]))
            if differ:
                detail = ', '.join(f'{k}: {first.metainfo.get(k, "<missing>")!r} vs '
                                   f'{dataset.metainfo.get(k, "<missing>")!r}' for k in differ)
                raise ValueError(
                    f'MultiSetDataset: set {dataset.set_name!r} ({type(dataset).__name__}) and '
                    f'set {first.set_name!r} ({type(first).__name__}) have different metainfo '
                    f'({detail}); all sets must be the same task (DBD sets with DBD sets, SOD '
                    'sets with SOD sets) with the same class names')

    @property
    def set_names(self) -> List[str]:
        """list[str]: The set names, in dataset (and index) order."""
        return list(self._set_names)
