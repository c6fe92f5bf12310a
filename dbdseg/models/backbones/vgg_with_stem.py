"""VGG returning the output of each of its five stages (after each max-pool).

Source: the VGG16 variant of the official DD code (``vggskspp``, github.com/vinthony/
depth-distillation, ``models/vgg.py``; the "FCN VGG" / "OursFull VGG" rows of Cun & Pun, ECCV 2020,
Table 2): the outputs after each of the five max-pools (64, 128, 256, 512, 512 channels, strides
2..32), convolutions without BN; its backbone holds ``pretrained_net.features.{0,2,...,28}``
(14,714,688 parameters). Built on mmcv's :class:`mmcv.cnn.VGG` (mmcv 2.1), whose layer list and
indices equal torchvision's ``vgg*.features``.

The name follows the five-level convention of ``ResNetWithStem``: level 0 is the stride-2 level,
here the first stage after its max-pool (VGG has no separate stem).
"""
from typing import Sequence

from mmcv.cnn import VGG
from mmengine.model import BaseModule

from dbdseg.models.utils.pretrained import PretrainedErrorMixin
from dbdseg.registry import MODELS

__all__ = ['VGGWithStem']


@MODELS.register_module()
class VGGWithStem(PretrainedErrorMixin, BaseModule):
    """mmcv VGG as a five-level backbone (DD's VGG variant, ``vggskspp`` of the official code).

    ===== ======================== ====== ========
    index module                   stride channels
    ===== ======================== ====== ========
    0     stage 1 + max-pool        2      64
    1     stage 2 + max-pool        4      128
    2     stage 3 + max-pool        8      256
    3     stage 4 + max-pool        16     512
    4     stage 5 + max-pool        32     512
    ===== ======================== ====== ========

    Parameters are held as ``features.<i>`` exactly as torchvision's ``vgg{11,13,16,19}[_bn]``
    (``features.0, 2, 5, 7, 10, ...`` for VGG16), so
    ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://vgg16')`` loads the ImageNet
    weights (its ``classifier.*`` keys are reported as unexpected and skipped) and DD's ``vggskspp``
    backbone keys ``pretrained_net.features.<i>`` map one to one
    (``tools/model_converters/dd2dbdseg.py``).
    VGG16: 14,714,688 parameters. The paper's Table 2 VGG rows name VGG19, the released code uses
    VGG16 (``depth`` chooses).

    Args:
        depth (int): 11, 13, 16 or 19. Defaults to 16 (the reference code).
        with_bn (bool): BatchNorm after each conv (torchvision ``vgg*_bn`` layout).
            Defaults to False.
        out_indices (Sequence[int]): levels to return (0..4, strictly increasing).
            Defaults to (0, 1, 2, 3, 4).
        frozen_stages (int): stages 0..frozen_stages-1 are frozen (no gradient, eval mode);
            -1 freezes nothing. Defaults to -1.
        ceil_mode (bool): max-pool ``ceil_mode`` (odd sizes round up). Defaults to False.
        init_cfg (dict | list, optional): mmengine init config. Defaults to Kaiming-normal
            convolutions (mmcv VGG's own default) and BN weight 1.

    Shapes: (N, 3, H, W) -> tuple of (N, C_i, H / 2^(i+1), W / 2^(i+1)) (floors, or ceils with
    ``ceil_mode``).

    Raises:
        ValueError: an unknown ``depth``; ``out_indices`` empty, out of 0..4 or not increasing;
            ``frozen_stages`` outside -1..5.
        RuntimeError: (``init_weights``) a pretrained checkpoint cannot be fetched: the message says
            which file to place where.
    """

    def __init__(self,
                 depth: int = 16,
                 with_bn: bool = False,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 frozen_stages: int = -1,
                 ceil_mode: bool = False,
                 init_cfg=(dict(
                     type='Kaiming',
                     layer='Conv2d',
                     mode='fan_out',
                     nonlinearity='relu',
                     distribution='normal'),
                           dict(type='Constant', val=1, bias=0, layer='BatchNorm2d'))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if depth not in VGG.arch_settings:
            raise ValueError(f'VGGWithStem: depth must be one of {sorted(VGG.arch_settings)}, got '
                             f'{depth!r}')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if (not out_indices or any(not isinstance(i, int) or not 0 <= i <= 4 for i in out_indices)
                or list(out_indices) != sorted(set(out_indices))):
            raise ValueError(f'VGGWithStem: out_indices {out_indices} must be strictly increasing '
                             'indices in 0..4')
        if not -1 <= frozen_stages <= 5:
            raise ValueError(f'VGGWithStem: frozen_stages must be in -1..5, got {frozen_stages}')
        vgg = VGG(
            depth,
            with_bn=with_bn,
            num_classes=-1,
            num_stages=5,
            out_indices=out_indices,
            ceil_mode=ceil_mode,
            with_last_pool=True,
            bn_eval=False)
        self.depth = depth
        self.with_bn = with_bn
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.features = vgg.features
        self.stage_ranges = [tuple(r) for r in vgg.range_sub_modules]
        self._freeze_stages()

    def forward(self, x):
        """(N, 3, H, W) -> tuple of the ``out_indices`` levels (see the class docstring)."""
        outs = []
        for i, (start, end) in enumerate(self.stage_ranges):
            for j in range(start, end):
                x = self.features[j](x)
            if i in self.out_indices:
                outs.append(x)
            if i >= self.out_indices[-1]:
                break
        return tuple(outs)

    def _freeze_stages(self) -> None:
        for i in range(max(self.frozen_stages, 0)):
            start, end = self.stage_ranges[i]
            for j in range(start, end):
                layer = self.features[j]
                layer.eval()
                for p in layer.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True):
        """``nn.Module.train`` that keeps frozen stages in eval mode; returns ``self``."""
        super().train(mode)
        if mode:
            self._freeze_stages()
        return self

    def init_weights(self):
        """mmengine initialisation (pretrained or ``init_cfg``), then re-freeze frozen stages."""
        super().init_weights()
        self._freeze_stages()
