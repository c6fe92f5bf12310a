"""DUTS salient object detection dataset."""
from dbdseg.registry import DATASETS
from .binary_seg_dataset import BinarySegDataset


@DATASETS.register_module()
class DUTSDataset(BinarySegDataset):
    """DUTS salient object detection dataset (Wang et al., CVPR 2017).

    Release: L. Wang, H. Lu, Y. Wang, M. Feng, D. Wang, B. Yin, X. Ruan, "Learning to Detect
    Salient Objects with Image-Level Supervision", CVPR 2017. DUTS-TR: 10553 training images,
    DUTS-TE: 5019 test images; images ``.jpg``, masks ``.png``. The standard SOD training set;
    dbdseg's configs name the test split ``set_name='DUTS-TE'``.

    Layout written by dbdseg's converter ``tools/dataset_converters/duts.py``
    (files copied unchanged from the release, so the masks keep the release's polarity)::

        data/duts/<split>/images/<stem>.jpg
        data/duts/<split>/masks/<stem>.png

    ``<split>`` is ``train`` (DUTS-TR, 10553 images) or ``test`` (DUTS-TE, 5019 images).

    Labels: label 1 = salient, 0 = background (dbdseg's convention, see
    :class:`~dbdseg.datasets.BinarySegDataset`). The release stores
    white = salient, which is label 1 as it is (``invert=False``).

    Polarity check: ``FG_FRACTION_RANGE = (0.01, 0.5)``. Salient objects cover less than half of
    the image on average (they rarely touch the border: the boundary prior of Wei et al., ECCV
    2012). Measured on a copy of the PASCAL-S masks: mean salient fraction 0.24 (850 masks,
    grey > 128); this release itself was not measured (none was reachable where dbdseg was
    written).
    The upper bound 0.5 separates a set's true mean ``m`` from the ``1 - m`` of the same masks
    read with the wrong polarity; 0.01 flags nearly empty masks. See *Polarity check* of
    :class:`~dbdseg.datasets.BinarySegDataset`.

    Not verified against a real download (none was reachable where dbdseg was written): the
    counts, suffixes and polarity above come from the papers and public SOD/DBD code; see
    ``tools/dataset_converters/README.md`` for what each converter checks.

    Args: as :class:`~dbdseg.datasets.BinarySegDataset`; ``img_suffix``, ``seg_map_suffix``,
    ``invert`` and ``set_name`` default to the class attributes ``IMG_SUFFIX``,
    ``SEG_MAP_SUFFIX``, ``INVERT`` and ``SET_NAME`` below (this release's).
    """

    SET_NAME = 'DUTS'
    METAINFO = dict(classes=('background', 'salient'), palette=[[0, 0, 0], [255, 255, 255]])
    IMG_SUFFIX = '.jpg'
    SEG_MAP_SUFFIX = '.png'
    INVERT = False
    FG_FRACTION_RANGE = (0.01, 0.5)
