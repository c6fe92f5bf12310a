"""CUHK defocus blur detection dataset."""
from dbdseg.registry import DATASETS
from .binary_seg_dataset import BinarySegDataset


@DATASETS.register_module()
class CUHKDBDDataset(BinarySegDataset):
    """CUHK blur detection dataset, defocus part (Shi et al., CVPR 2014).

    Release: J. Shi, L. Xu, J. Jia, "Discriminative Blur Detection Features", CVPR 2014. 1000
    partially blurred photos with hand-drawn masks: 704 defocus-blurred (``out_of_focusNNNN.jpg``,
    masks ``.png``) and 296 motion-blurred (not used here). DBD papers (BTBNet, DD, ...) split
    the 704 defocus images into 604 train / 100 test; the list ships with dbdseg's CUHK
    converter.

    Layout written by dbdseg's converter ``tools/dataset_converters/cuhk_dbd.py``
    (files copied unchanged from the release, so the masks keep the release's polarity)::

        data/cuhk_dbd/<split>/images/<stem>.jpg
        data/cuhk_dbd/<split>/masks/<stem>.png

    ``<split>`` is ``train`` (604 images) or ``test`` (100 images); stems keep the
    release names (``out_of_focus0001``).

    Labels: label 1 = in-focus, 0 = blurred (dbdseg's convention, see
    :class:`~dbdseg.datasets.BinarySegDataset`). In the
    release white = BLURRED, so ``invert=True`` by default; set ``invert=False`` for a
    re-release already stored as white = in-focus.

    Polarity check: ``FG_FRACTION_RANGE = (0.01, 0.5)``. In most CUHK defocus images the
    in-focus region is the minority (shallow depth-of-field photos of a subject before a
    blurred background), so a correctly read set has a mean in-focus fraction below one
    half, and the white = blurred originals read without ``invert=True`` land above it.
    Not measured on the release (none was reachable where dbdseg was written).
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

    SET_NAME = 'CUHK'
    METAINFO = dict(classes=('blurred', 'in-focus'), palette=[[0, 0, 0], [255, 255, 255]])
    IMG_SUFFIX = '.jpg'
    SEG_MAP_SUFFIX = '.png'
    INVERT = True
    FG_FRACTION_RANGE = (0.01, 0.5)
