"""GradientDetailEncoder: a pretrained encoder plus a full-resolution image-gradient branch.

Why: the real-time DBD model of Zhang & Yan (ECCV 2020, Sec. 3.4 and Table 1) shows that encoding
the image's partial derivatives next to the image helps defocus blur detection: blur is the loss
of high-frequency detail, which a stride-2 ImageNet stem discards before its first feature. A
pretrained encoder (here EfficientNet-Lite) gives semantic context that a network trained from
scratch on a few hundred CPU iterations cannot learn. This module keeps both: any registered
backbone (``encoder``) for context, and a small branch at full resolution that sees the image and
its fixed-kernel derivatives (the same kernels as :class:`~dbdseg.models.backbones.GradientUNet`).
It is dbdseg's design for CPU-scale training on real photos, not a published model; the demo
config (``configs/demo``) and its README give the numbers that motivated it.

Output: ``(detail, *encoder_features)``: the detail feature (N, detail_channels[-1], H, W) at
stride 1, followed by the encoder's outputs. ``self.out_channels`` lists all channels, stride 1
first. Pair it with :class:`~dbdseg.models.decode_heads.UNetFusionHead`.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from dbdseg.models.backbones.gradient_unet import _GRADIENT_KERNELS
from dbdseg.registry import MODELS

__all__ = ['GradientDetailEncoder']


@MODELS.register_module()
class GradientDetailEncoder(BaseModule):
    """Encoder features plus a full-resolution detail feature of the image and its gradients.

    The detail branch takes 6 channels: the normalised image (3), the grey image's d/dx and d/dy
    and the gradient magnitude (in [0, 1]-intensity units per pixel, scaled by
    ``gradient_scale``), then ``len(detail_channels)`` 3x3 ConvModules at stride 1.

    Args:
        encoder (dict): config of any registered backbone returning a tuple of features, e.g.
            ``dict(type='EfficientNetLite', arch='lite0', init_cfg=...)``. Its ``out_channels``
            attribute (or ``encoder_channels``) gives the channels.
        encoder_channels (Sequence[int], optional): channels of the encoder outputs, when the
            encoder has no ``out_channels`` attribute. Defaults to None.
        detail_channels (Sequence[int]): widths of the detail convolutions. Defaults to (16, 16).
        gradient_kernel (str): 'central' or 'sobel' (as GradientUNet). Defaults to 'central'.
        gradient_scale (float): multiplier of the derivatives before the convolutions, so that
            typical edges (slopes of 0.05-0.5 per pixel) reach the image's scale. Our choice:
            defaults to 4.0.
        mean, std (Sequence[float]): the data preprocessor's RGB mean/std (to de-normalise the
            image before differentiation). Defaults to the EfficientNet-Lite 127/128.
        use_gradients (bool): False feeds the image alone to the detail branch (an ablation).
            Defaults to True.
        conv_cfg, norm_cfg, act_cfg (dict): layers of the detail branch.
        init_cfg (dict, optional): mmengine init config of the detail branch (the encoder has its
            own). Defaults to None.

    Raises:
        ValueError: unknown ``gradient_kernel``; encoder channels unknown.
    """

    def __init__(self,
                 encoder: dict,
                 encoder_channels: Sequence[int] = None,
                 detail_channels: Sequence[int] = (16, 16),
                 gradient_kernel: str = 'central',
                 gradient_scale: float = 4.0,
                 mean: Sequence[float] = (127., 127., 127.),
                 std: Sequence[float] = (128., 128., 128.),
                 use_gradients: bool = True,
                 conv_cfg=None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None):
        super().__init__(init_cfg)
        if gradient_kernel not in _GRADIENT_KERNELS:
            raise ValueError(f'GradientDetailEncoder: gradient_kernel {gradient_kernel!r} not in '
                             f'{sorted(_GRADIENT_KERNELS)}')
        self.encoder = MODELS.build(encoder)
        enc_channels = encoder_channels or getattr(self.encoder, 'out_channels', None)
        if enc_channels is None:
            raise ValueError('GradientDetailEncoder: the encoder has no out_channels attribute; '
                             'give encoder_channels')
        self.use_gradients = use_gradients
        self.gradient_scale = float(gradient_scale)
        kx = torch.tensor(_GRADIENT_KERNELS[gradient_kernel], dtype=torch.float32)
        self.register_buffer('kernels', torch.stack([kx, kx.t()])[:, None], persistent=False)
        self.register_buffer(
            'img_mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer(
            'img_std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer(
            'gray_weights', torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)
        convs, c = [], 6 if use_gradients else 3
        for w in detail_channels:
            convs.append(
                ConvModule(
                    c, w, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
            c = w
        self.detail = torch.nn.Sequential(*convs)
        self.out_channels = (c, ) + tuple(enc_channels)

    def gradients(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised RGB -> (N, 3, H, W): d/dx, d/dy and magnitude of the grey
        image in [0, 1]-intensity units per pixel (replicate padding), times ``gradient_scale``."""
        img = (x * self.img_std + self.img_mean) / 255.
        grey = (img * self.gray_weights).sum(1, keepdim=True)
        d = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode='replicate'), self.kernels)
        mag = torch.sqrt((d * d).sum(1, keepdim=True) + 1e-12)
        return torch.cat([d, mag], 1) * self.gradient_scale

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) normalised RGB -> (detail (N, C0, H, W), *encoder features)."""
        inp = torch.cat([x, self.gradients(x)], 1) if self.use_gradients else x
        return (self.detail(inp), ) + tuple(self.encoder(x))
