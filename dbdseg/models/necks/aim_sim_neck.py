"""AIMSIMNeck: the encoder of AFIU (Qian et al.): AIM -> SIM -> fusion on five levels.

Source: M. Qian et al., "Defocus Blur Detection via Salient Region Detection Prior" (arXiv
2011.09677), Sec. 3.2 and Fig. 4: "The encoder is formed by blocks consisting of an AIM, a SIM,
and an extra fusion module at the end"; each AIM "receives 2 or 3 different levels features"; the
AIMs and SIMs are MINet's (Pang et al., CVPR 2020, Sec. 3.2-3.3;
:mod:`dbdseg.models.utils.aim_sim_blocks`). The paper does not detail the assembly or the fusion
module: both are dbdseg's choices, each a constructor argument.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from dbdseg.models.utils.aim_sim_blocks import AIM2, AIM3, SIM
from dbdseg.models.utils.per_level import per_level
from dbdseg.registry import MODELS

__all__ = ['AIMSIMNeck']

NUM_LEVELS = 5
IntOrSeq = Union[int, Sequence[int]]


@MODELS.register_module()
class AIMSIMNeck(BaseModule):
    """AFIU encoder neck: per level an AIM, a SIM and a fusion conv, giving EC1..EC5.

    Source: Qian et al. (AFIU), Sec. 3.2 / Fig. 4; AIM and SIM as MINet (Pang et al. 2020,
    Sec. 3.2-3.3); the assembly is dbdseg's choice. For backbone levels E1..E5 (strides 2..32,
    e.g. :class:`~dbdseg.models.backbones.ResNetWithStem`):

    ====== ============================== ==================== =======================
    level  AIM inputs (main in bold)       AIM type             MINet-Res50 AIM width
    ====== ============================== ==================== =======================
    1      **E1**, E2                      2-input, main = high min(64, 256) = 64
    2      E1, **E2**, E3                  3-input              64
    3      E2, **E3**, E4                  3-input              256
    4      E3, **E4**, E5                  3-input              512
    5      E4, **E5**                      2-input, main = low  1024
    ====== ============================== ==================== =======================

    then ``S_x = SIM(A_x)`` (SIM(64, 32) in MINet) and ``EC_x = fusion_x(S_x)``. The paper says only
    that the processed information "will be fused via a convolutional module": dbdseg's fusion is
    ``fusion_num_convs`` x (``fusion_kernel_size`` conv (no bias) + BN + ReLU), default one 3x3 conv
    64 -> 64 per level (dbdseg's choice); ``fusion_num_convs=0`` skips it.

    Memory: with ResNet-50 inputs and MINet's widths the AIM alone holds 137.7 M parameters (level 5
    runs 3x3 convolutions at 1024 channels: 85.7 M), as in MINet-Res50; ``aim_mid_channels`` reduces
    it (e.g. 64 everywhere: the AIMs then hold 7.5 M).

    Shapes: inputs (N, in_channels[i], H_i, W_i), i = 0..4, each level about half the size of the
    previous (any sizes: the AIM resamples to the target size; for inputs that are multiples of 32
    this equals MINet's nearest x2 / AvgPool 2x2, see :mod:`dbdseg.models.utils.aim_sim_blocks`).
    Outputs: a 5-tuple, (N, out_channels[i], H_i, W_i).

    Args:
        in_channels (Sequence[int]): channels of E1..E5. ResNet-50: (64, 256, 512, 1024, 2048);
            ResNet-18/34: (64, 64, 128, 256, 512).
        aim_channels (int | Sequence[int]): output channels of each AIM (= SIM channels). MINet: 64.
        aim_mid_channels (None | int | Sequence[int]): internal width of each AIM; None = the
            minimum of its input channels (MINet). Defaults to None.
        sim_low_channels (int | Sequence[int]): width of each SIM's half-resolution branch.
            MINet: 32.
        out_channels (int | Sequence[int]): channels of EC1..EC5 (the fusion output). Must equal
            ``aim_channels`` when ``fusion_num_convs=0``. Defaults to 64.
        fusion_num_convs (int): conv-BN-ReLU layers of each fusion module (>= 0). Defaults to 1.
        fusion_kernel_size (int): their kernel size (odd). Defaults to 3.
        norm_cfg (dict): normalisation of every block. Defaults to BN.
        act_cfg (dict): activation of every block. Defaults to ReLU.
        align_corners (bool): of the SIMs' bilinear resizing. MINet: False.
        init_cfg (dict, optional): mmengine init config. Defaults to None (PyTorch defaults in
            the AIMs and SIMs, as MINet; mmcv ``ConvModule`` defaults in the fusion convs).

    Raises:
        ValueError: ``in_channels`` not five positive ints; a bad width, ``fusion_num_convs`` or
            ``fusion_kernel_size``; ``out_channels != aim_channels`` without fusion; ``forward``
            given other than five levels.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 256, 512, 1024, 2048),
                 aim_channels: IntOrSeq = 64,
                 aim_mid_channels: Optional[IntOrSeq] = None,
                 sim_low_channels: IntOrSeq = 32,
                 out_channels: IntOrSeq = 64,
                 fusion_num_convs: int = 1,
                 fusion_kernel_size: int = 3,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, (list, tuple)) or len(in_channels) != NUM_LEVELS:
            raise ValueError(f'AIMSIMNeck: in_channels must list the channels of the '
                             f'{NUM_LEVELS} backbone levels E1..E5, got {in_channels!r}')
        widths = dict(num_levels=NUM_LEVELS, owner='AIMSIMNeck', kind=int, minimum=1)
        in_channels = per_level(tuple(in_channels), name='in_channels', **widths)
        aim_channels = per_level(aim_channels, name='aim_channels', **widths)
        aim_mid = per_level(aim_mid_channels, name='aim_mid_channels', allow_none=True, **widths)
        sim_low = per_level(sim_low_channels, name='sim_low_channels', **widths)
        out_channels = per_level(out_channels, name='out_channels', **widths)
        if isinstance(fusion_num_convs, bool) or not isinstance(fusion_num_convs, int) or \
                fusion_num_convs < 0:
            raise ValueError(f'AIMSIMNeck: fusion_num_convs must be an int >= 0, got '
                             f'{fusion_num_convs!r}')
        if not isinstance(fusion_kernel_size, int) or fusion_kernel_size < 1 or \
                fusion_kernel_size % 2 == 0:
            raise ValueError(f'AIMSIMNeck: fusion_kernel_size must be a positive odd int, got '
                             f'{fusion_kernel_size!r}')
        if fusion_num_convs == 0 and out_channels != aim_channels:
            raise ValueError(f'AIMSIMNeck: without fusion convs (fusion_num_convs=0) '
                             f'out_channels {out_channels} must equal aim_channels {aim_channels}')
        self.in_channels = in_channels
        self.aim_channels = aim_channels
        self.out_channels = out_channels
        self.fusion_num_convs = fusion_num_convs
        kw = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        c = in_channels
        self.aims = nn.ModuleList()
        for i in range(NUM_LEVELS):
            if i == 0:
                aim = AIM2((c[0], c[1]),
                           aim_channels[i],
                           main='high',
                           mid_channels=aim_mid[i],
                           **kw)
            elif i == NUM_LEVELS - 1:
                aim = AIM2((c[i - 1], c[i]),
                           aim_channels[i],
                           main='low',
                           mid_channels=aim_mid[i],
                           **kw)
            else:
                aim = AIM3((c[i - 1], c[i], c[i + 1]),
                           aim_channels[i],
                           mid_channels=aim_mid[i],
                           **kw)
            self.aims.append(aim)
        self.sims = nn.ModuleList([
            SIM(aim_channels[i], sim_low[i], align_corners=align_corners, **kw)
            for i in range(NUM_LEVELS)
        ])
        self.fusions = nn.ModuleList()
        for i in range(NUM_LEVELS):
            layers = [
                ConvModule(
                    aim_channels[i] if j == 0 else out_channels[i],
                    out_channels[i],
                    fusion_kernel_size,
                    padding=fusion_kernel_size // 2,
                    **kw) for j in range(fusion_num_convs)
            ]
            self.fusions.append(nn.Sequential(*layers) if layers else nn.Identity())

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """E1..E5 (N, in_channels[i], H_i, W_i) -> (EC1, ..., EC5), each
        (N, out_channels[i], H_i, W_i)."""
        if len(inputs) != NUM_LEVELS:
            raise ValueError(f'AIMSIMNeck: expected the {NUM_LEVELS} backbone levels E1..E5 '
                             f'(e.g. ResNetWithStem with out_indices=(0, 1, 2, 3, 4)), got '
                             f'{len(inputs)} tensors')
        e = list(inputs)
        outs: List[Tensor] = []
        for i in range(NUM_LEVELS):
            if i == 0:
                a = self.aims[i](e[0], e[1])
            elif i == NUM_LEVELS - 1:
                a = self.aims[i](e[i - 1], e[i])
            else:
                a = self.aims[i](e[i - 1], e[i], e[i + 1])
            outs.append(self.fusions[i](self.sims[i](a)))
        return tuple(outs)
