"""DUT defocus blur detection dataset."""
from dbdseg.registry import DATASETS
from .binary_seg_dataset import BinarySegDataset


@DATASETS.register_module()
class DUTDBDDataset(BinarySegDataset):
    """DUT defocus blur detection dataset (Zhao et al., CVPR 2018, BTBNet).

    Release: W. Zhao, F. Zhao, D. Wang, H. Lu, "Defocus Blur Detection via Multi-Stream
    Bottom-Top-Bottom Fully Convolutional Network", CVPR 2018. 1100 images with pixel masks:
    600 train (``dut600``) / 500 test (``dut500``); images ``.jpg``, masks ``.bmp``.

    Layout written by dbdseg's converter ``tools/dataset_converters/dut_dbd.py``
    (files copied unchanged from the release, so the masks keep the release's polarity)::

        data/dut_dbd/<split>/images/<stem>.jpg
        data/dut_dbd/<split>/masks/<stem>.bmp

    ``<split>`` is ``train`` (600 images, dut600) or ``test`` (500 images, dut500).

    Labels: label 1 = in-focus, 0 = blurred (dbdseg's convention, see
    :class:`~dbdseg.datasets.BinarySegDataset`). The release
    stores white = in-focus, which is label 1 as it is (``invert=False``).

    Polarity check: ``FG_FRACTION_RANGE = (0.01, 0.5)``. Measured: mean in-focus fraction
    0.34 (per image 0.21 to 0.47) on 5 images of the DUT test set (grey > 128); the full
    release was not reachable where dbdseg was written.
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

    SET_NAME = 'DUT'
    METAINFO = dict(classes=('blurred', 'in-focus'), palette=[[0, 0, 0], [255, 255, 255]])
    IMG_SUFFIX = '.jpg'
    SEG_MAP_SUFFIX = '.bmp'
    INVERT = False
    FG_FRACTION_RANGE = (0.01, 0.5)
