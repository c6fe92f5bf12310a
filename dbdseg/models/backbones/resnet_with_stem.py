"""ResNet that also returns its stride-2 stem output (five feature levels).

Source: AFIU (Qian et al. 2020, Sec. 3.2: "E_1 represents conv1 in ResNet-50, E_2 represents
conv2_x") and the public code of the other models dbdseg builds on (MINet,
github.com/lartpang/MINet, whose blocks AFIU uses; DD, github.com/vinthony/depth-distillation; A2S,
github.com/moothes/A2S-USOD) use a five-level pyramid that includes the stem output (conv1 + bn1 +
relu, before the max-pool). mmseg's :class:`~mmseg.models.backbones.ResNet` returns only the four
residual stages, so this subclass adds the stem level in front and keeps everything else (module
names, weight initialisation, ``frozen_stages``, ``norm_eval``) unchanged.
"""
from typing import Sequence, Tuple

import torch
from mmseg.models.backbones import ResNet

from dbdseg.models.utils.pretrained import PretrainedErrorMixin
from dbdseg.registry import MODELS


class _StemOutputMixin(PretrainedErrorMixin):
    """Five-level forward shared by :class:`ResNetWithStem` and ``ResNeXtWithStem``.

    Must come before mmseg's ``ResNet`` in the method resolution order. The mixin rewrites
    ``out_indices`` (indices into the five-level tuple) into the four-stage indices mmseg's
    ``ResNet.__init__`` validates, and restores the five-level meaning afterwards.
    """

    def _init_with_stem(self, out_indices: Sequence[int], deep_stem: bool, kwargs: dict) -> None:
        if deep_stem:
            raise ValueError(
                f'{type(self).__name__} supports deep_stem=False only: the reference models '
                '(AFIU, DD, A2S) and the torchvision/open-mmlab ImageNet '
                'checkpoints use the plain 7x7 stem (conv1, bn1), and a deep stem (ResNetV1c) '
                'would change both the stem features and the checkpoint keys.')
        num_stages = kwargs.get('num_stages', 4)
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        if len(out_indices) == 0:
            raise ValueError(f'{type(self).__name__}: out_indices must not be empty')
        for idx in out_indices:
            if not isinstance(idx, int) or not 0 <= idx <= num_stages:
                raise ValueError(
                    f'{type(self).__name__}: out_indices {out_indices} must index the '
                    f'{num_stages + 1} levels (0 = stem, 1..{num_stages} = residual stages)')
        if list(out_indices) != sorted(set(out_indices)):
            raise ValueError(f'{type(self).__name__}: out_indices {out_indices} must be strictly '
                             'increasing')
        # mmseg's ResNet asserts max(out_indices) < num_stages on its own four-stage indexing.
        stage_indices = tuple(i - 1 for i in out_indices if i >= 1)
        super().__init__(out_indices=stage_indices or (0, ), deep_stem=False, **kwargs)
        self.out_indices = out_indices

    def train(self, mode: bool = True):
        """mmseg ResNet's ``train`` (frozen stages, ``norm_eval``), returning ``self`` as
        ``nn.Module.train`` does (mmseg's returns None, which breaks ``model.eval()`` chaining)."""
        super().train(mode)
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the stem and the residual stages.

        Args:
            x (Tensor): (N, C_in, H, W) normalised image batch.

        Returns:
            tuple[Tensor]: the levels selected by ``out_indices``, in increasing stride order.
            With the default ``out_indices=(0, 1, 2, 3, 4)`` and depth >= 50: stem
            (N, 64, H/2, W/2), then (N, 256, H/4, W/4), (N, 512, H/8, W/8), (N, 1024, H/16, W/16),
            (N, 2048, H/32, W/32) (sizes rounded up, as the strided convolutions do).
        """
        x = self.conv1(x)
        x = self.norm1(x)
        x = self.relu(x)
        outs = []
        if 0 in self.out_indices:
            outs.append(x)
        x = self.maxpool(x)
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i + 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class ResNetWithStem(_StemOutputMixin, ResNet):
    """mmseg ResNet returning the stride-2 stem output followed by the four residual stages.

    Levels (the stem output, then the four stages), for depth 50/101/152:

    ===== ===================================== ====== ========
    index module                                stride channels
    ===== ===================================== ====== ========
    0     conv1 + bn1 + relu (before max-pool)  2      64
    1     max-pool + layer1                     4      256
    2     layer2                                8      512
    3     layer3                                16     1024
    4     layer4                                32     2048
    ===== ===================================== ====== ========

    (depth 18/34: 64, 64, 128, 256, 512.) The stem level is ``stem_channels`` wide.

    The module names are exactly mmseg ResNet's, which are torchvision's (``conv1``, ``bn1``,
    ``layerX.Y.convZ``/``bnZ``, ``layerX.0.downsample.0/1``; there is no ``fc``), so
    ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')`` or an open-mmlab
    checkpoint loads unchanged (the checkpoint's ``fc.*`` keys are reported as unexpected and
    skipped by mmengine's non-strict loader).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        out_indices (Sequence[int]): indices into the five-level tuple above (NOT mmseg's
            four-stage indices): 0 = stem, 1..4 = layer1..layer4. Must be strictly increasing and
            within ``0..num_stages``. Defaults to (0, 1, 2, 3, 4).
        deep_stem (bool): must be False. Raises ``ValueError`` otherwise: the references use the
            plain 7x7 stem, and a deep stem changes features and checkpoint keys.
        **kwargs: every other argument of mmseg's ``ResNet`` (``style``, ``frozen_stages``,
            ``norm_cfg``, ``norm_eval``, ``init_cfg``, ...). ``frozen_stages >= 0`` freezes the
            stem (level 0), ``frozen_stages = k`` also freezes layer1..layerk, as in mmseg.

    Raises:
        ValueError: ``deep_stem=True``; ``out_indices`` empty, out of range or not increasing.
    """

    def __init__(self,
                 depth: int,
                 out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 deep_stem: bool = False,
                 **kwargs):
        self._init_with_stem(out_indices, deep_stem, dict(depth=depth, **kwargs))
