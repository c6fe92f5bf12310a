"""ResNeXt that also returns its stride-2 stem output (five feature levels).

Source: Cun & Pun, "Defocus Blur Detection via Depth Distillation", ECCV 2020, Sec. 3.2: DD's
encoder is an ImageNet ResNeXt-101 whose five levels are taken "before each MaxPooling layer", the
stride-2 stem output included. The layer layout is that of the ResNeXt-101 32x4d the official DD
code loads (github.com/vinthony/depth-distillation, ``models/resnext/``).
"""
from typing import Sequence

from mmseg.models.backbones import ResNeXt

from dbdseg.registry import MODELS
from .resnet_with_stem import _StemOutputMixin


@MODELS.register_module()
class ResNeXtWithStem(_StemOutputMixin, ResNeXt):
    """mmseg ResNeXt returning the stride-2 stem output followed by the four residual stages.

    Same five levels as :class:`~dbdseg.models.backbones.ResNetWithStem`: index 0 is
    conv1 + bn1 + relu before the max-pool (stride 2, 64 channels), indices 1..4 are layer1..layer4
    (strides 4, 8, 16, 32; 256, 512, 1024, 2048 channels). DD's encoder is
    ``ResNeXtWithStem(depth=101, groups=32, base_width=4)`` (as the official DD code's
    ``models/resnext/resnext_101_32x4d_.py``: grouped 3x3 convolution carrying the stride,
    first-stage width 128, 1x1 projection shortcuts), i.e.
    the ResNeXt-101 32x4d feature extractor: 42,128,704 parameters (no classifier).

    Module names equal mmseg ResNeXt's (``conv1``, ``bn1``, ``layerX.Y.convZ``/``bnZ``,
    ``layerX.0.downsample.0/1``), so ``open-mmlab://resnext101_32x4d`` loads through
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` unchanged. DD's Torch7-converted
    ``resnext_101_32x4d.pth`` needs the key-renaming script in ``tools/model_converters/`` first.

    Args:
        depth (int): 50, 101 or 152.
        groups (int): cardinality. Defaults to 32 (mmseg's default is 1).
        base_width (int): width per group in the first stage. Defaults to 4.
        out_indices (Sequence[int]): indices into the five-level tuple (0 = stem,
            1..4 = layer1..layer4), strictly increasing. Defaults to (0, 1, 2, 3, 4).
        deep_stem (bool): must be False (``ValueError`` otherwise; see ``ResNetWithStem``).
        **kwargs: every other argument of mmseg's ``ResNet``/``ResNeXt``.

    Raises:
        ValueError: ``deep_stem=True``; ``out_indices`` empty, out of range or not increasing.
    """

    def __init__(self,
                 depth: int,
                 groups: int = 32,
                 base_width: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 deep_stem: bool = False,
                 **kwargs):
        self._init_with_stem(out_indices, deep_stem,
                             dict(depth=depth, groups=groups, base_width=base_width, **kwargs))
