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
