"""GradientUNet: the backbone of Zhang & Yan's real-time defocus blur detector.

Source: N. Zhang, J. Yan, "Rethinking the Defocus Blur Detection Problem and A Real-Time Deep DBD
Model", ECCV 2020, Section 3.4 and Fig. 4, and Table 1. No code was published; everything the text
does not state is a reconstruction (our choice), marked [RECON] below, and each is a constructor
argument; ``configs/realtime_dbd/README.md``, 'What the paper does not say, and what dbdseg chose',
lists them.

What the paper states (Sec. 3.4):

* a modified U-Net; a "3*3*t Conv" module is two 3x3 convolutions with t filters, each followed by
  BN and ReLU, and one pooling layer;
* "the strides of all the 3*3*t Conv modules are 2 except for the one before concatenation";
* the image and its partial derivatives in x and y are each encoded, and the three encodings are
  concatenated at the end of the encoding part;
* a "3*3*256" module reduces the redundant filters and fuses the features, followed by dropout 0.2;
* the decoder uses "3*3*t Deconv" layers (3x3 transposed convolutions, stride 2) and shortcuts
  (dotted arrows in Fig. 4) from encoder layers to decoder layers;
* Table 1: "model size" 26.73M with gradients, 7.79M without ("BCE without image gradient").

How this module reads it:

* Three encoders (image, d/dx, d/dy) of ``len(widths)`` "3x3xt Conv" modules each (mmcv
  ``ConvModule`` 3x3 conv + BN + ReLU, twice). Modules ``0..L-2`` end with a 2x2 pooling of
  stride 2; the last module ("the one before concatenation") has stride 1, read as *no pooling*
  [RECON], so the total stride is ``2 ** (L - 1)`` (16 with the default five modules: 20x20 at
  320x320).
* Gradients are computed inside the model from the de-normalised image with fixed (non-learned)
  kernels [RECON; the paper only says "partial derivatives in both X and Y direction"]: a central
  difference (default) or Sobel, on the grey image (default) or per RGB channel.
* The three bottleneck encodings are concatenated (``3 * widths[-1]`` channels) and the
  "3x3x256" module is ``fuse_num_convs`` 3x3 ConvModules to ``fuse_channels``; default two
  (768 -> 256 -> 256), reading it like the two-convolution "3x3xt Conv" module [RECON]. Then
  ``nn.Dropout(0.2)``.
* Decoder: ``L - 1`` stages, each a 3x3 stride-2 transposed convolution (+ BN + ReLU [RECON]) to
  ``decoder_widths[j]`` channels, concatenation with the encoder feature of the same resolution
  (the pre-pooling output of the matching encoder module, as in U-Net [RECON]), then
  ``decoder_num_convs`` 3x3 ConvModules (default 1, so that a decoder stage has two layers like an
  encoder module [RECON]; 0 = transposed convolutions only). The last stage is at full input
  resolution. Skips come from the image encoder by default (``skip_from='image'`` [RECON]: the
  text says only "a shortcut from a encoder layer to a decoder layer"); ``'all'`` concatenates the
  same-resolution features of all three encoders [RECON].
* Widths are not printed in the paper [RECON]: the defaults (16, 32, 64, 128, 256) with decoder
  (128, 64, 32, 16) give 6,683,344 parameters, 26.84 MB as an fp32 state dict with the 1x1 head
  (the paper's 26.73M read as MB [RECON]: the same row of Table 1 gives 200M for BTBNet, i.e.
  megabytes of weights). The same widths without gradients give 3,144,752 parameters = 12.63 MB,
  against the paper's 7.79: no shared set of widths reproduces both, because
  dropping two of the three encoders cannot shrink a model by more than 3x while the paper's ratio
  is 3.43 (numbers and other readings in ``configs/realtime_dbd/README.md``).

Output: a tuple of decoder features selected by ``out_indices``; index ``i`` is the feature at
stride ``2 ** i`` (0 = full resolution, ``L - 1`` = the fused bottleneck after dropout). The
default ``out_indices=(0,)`` gives one (N, decoder_widths[-1], H, W) map for mmseg's ``FCNHead``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from dbdseg.registry import MODELS

_GRADIENT_KERNELS = {
    # Cross-correlation kernels (F.conv2d) for d/dx, in intensity units per pixel: both return
    # exactly the slope ``a`` on a linear ramp ``I = a * x``.
    'central': [[0., 0., 0.], [-0.5, 0., 0.5], [0., 0., 0.]],
    'sobel': [[-0.125, 0., 0.125], [-0.25, 0., 0.25], [-0.125, 0., 0.125]],
}


class _ConvModule3x3t(BaseModule):
    """The paper's "3*3*t Conv" module: (3x3 conv + BN + ReLU) x 2, then an optional pooling.

    Source: Zhang & Yan 2020, Sec. 3.4. Pooling kind (max/avg) and the 2x2 window are [RECON].

    Args:
        in_channels (int): input channels.
        out_channels (int): t, the number of filters of both convolutions.
        downsample (bool): end with a 2x2 pooling of stride 2 (True) or no pooling (False, the
            stride-1 module before the concatenation).
        pool_type (str): 'max' or 'avg'.

    Forward: (N, in_channels, H, W) -> (pre_pool (N, t, H, W), out (N, t, H/2, W/2) or pre_pool).
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 downsample,
                 pool_type,
                 conv_cfg,
                 norm_cfg,
                 act_cfg,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.convs = nn.Sequential(
            ConvModule(
                in_channels,
                out_channels,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg),
            ConvModule(
                out_channels,
                out_channels,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg))
        if not downsample:
            self.pool = None
        elif pool_type == 'max':
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        else:
            self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        pre = self.convs(x)
        return pre, (pre if self.pool is None else self.pool(pre))


class _DecoderStage(BaseModule):
    """One decoder stage: "3*3*t Deconv" (stride 2), concatenation with the skip, convolutions.

    Source: Zhang & Yan 2020, Sec. 3.4 (3x3 transposed convolution with t filters, stride 2,
    shortcut from the encoder). BN + ReLU after the transposed convolution and the
    ``num_convs`` 3x3 ConvModules after the concatenation are [RECON].

    Forward: x (N, in_channels, h, w), skip (N, skip_channels, 2h, 2w)
    -> (N, out_channels, 2h, 2w), where out_channels = width if num_convs > 0 else
    width + skip_channels.
    """

    def __init__(self,
                 in_channels,
                 skip_channels,
                 width,
                 num_convs,
                 conv_cfg,
                 norm_cfg,
                 act_cfg,
                 init_cfg=None):
        super().__init__(init_cfg)
        # kernel 3, stride 2, padding 1, output_padding 1: exactly doubles H and W.
        self.up = ConvModule(
            in_channels,
            width,
            3,
            stride=2,
            padding=1,
            conv_cfg=dict(type='deconv', output_padding=1),
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        convs = []
        channels = width + skip_channels
        for _ in range(num_convs):
            convs.append(
                ConvModule(
                    channels,
                    width,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
            channels = width
        self.convs = nn.Sequential(*convs)
        self.out_channels = channels

    def forward(self, x, skip):
        x = self.up(x)
        return self.convs(torch.cat([x, skip], dim=1))


@MODELS.register_module()
class GradientUNet(BaseModule):
    """Zhang & Yan's modified U-Net with image, d/dx and d/dy encoders (ECCV 2020, Fig. 4).

    See the module docstring for the reading of the paper; every [RECON] choice is an argument.

    Args:
        in_channels (int): image channels. Defaults to 3.
        widths (Sequence[int]): t of each "3x3xt Conv" module of each encoder, shallow to deep.
            ``len(widths) = L >= 2``; the total stride is ``2 ** (L - 1)``. [RECON] Defaults to
            (16, 32, 64, 128, 256).
        decoder_widths (Sequence[int], optional): t of each decoder stage, deep to shallow,
            ``L - 1`` entries. Defaults to None, i.e. ``widths[-2::-1]`` (128, 64, 32, 16). [RECON]
        fuse_channels (int): filters of the "3x3x256" fusion module. Defaults to 256 (paper).
        fuse_num_convs (int): 3x3 ConvModules in the fusion module (>= 1). Defaults to 2. [RECON]
        decoder_num_convs (int): 3x3 ConvModules after each skip concatenation (>= 0).
            Defaults to 1. [RECON]
        dropout_ratio (float): dropout after the fusion module (element-wise ``nn.Dropout``).
            Defaults to 0.2 (paper).
        use_gradients (bool): build the d/dx and d/dy encoders. False gives the paper's
            "without image gradient" ablation (Table 1): one encoder, no gradient computation.
            Defaults to True.
        gradient_kernel (str): 'central' (default; [-1/2, 0, 1/2]) or 'sobel' (Sobel / 8). Both
            return the slope of a linear ramp in intensity units per pixel; the border uses
            replicate padding (half the slope at the first/last column for 'central'). [RECON]
        gradient_mode (str): 'gray' (default; also 'grey': one ITU-R BT.601 luma channel) or
            'rgb' (one gradient per image channel; the gradient encoders then take
            ``in_channels`` channels). [RECON]
        mean (Sequence[float]): the data preprocessor's mean, in the input's channel order
            (RGB after ``bgr_to_rgb=True``). Defaults to ImageNet [123.675, 116.28, 103.53].
        std (Sequence[float]): the data preprocessor's std. Defaults to [58.395, 57.12, 57.375].
        max_value (float): the de-normalised image (``x * std + mean``, in [0, max_value]) is
            divided by this before differentiation, so gradients are in units of [0, 1]
            intensity per pixel (values within [-0.5, 0.5] for both kernels). Defaults to 255.
        gray_weights (Sequence[float]): RGB -> grey weights for ``gradient_mode='gray'`` with
            3-channel input. Defaults to (0.299, 0.587, 0.114).
        skip_from (str): 'image' (default; our choice) or 'all' (concatenate the
            same-resolution features of the image, d/dx and d/dy encoders). [RECON]
        pool_type (str): 'max' (default, as U-Net) or 'avg'. [RECON]
        out_indices (Sequence[int]): decoder levels to return; index i is stride 2 ** i,
            0 <= i <= L - 1 (L - 1 = fused bottleneck after dropout). Defaults to (0,).
        conv_cfg (dict, optional): convolution config of the 3x3 convolutions. Defaults to None.
        norm_cfg (dict): normalisation config. Defaults to dict(type='BN', requires_grad=True).
        act_cfg (dict): activation config. Defaults to dict(type='ReLU').
        init_cfg (dict | list[dict], optional): mmengine init config. Defaults to None (mmcv
            ConvModule's Kaiming init; the paper trains from scratch).

    Shapes: input (N, in_channels, H, W), the normalised image from ``SegDataPreProcessor``;
    H and W must be multiples of ``2 ** (L - 1)``. Output: tuple, one (N, C_i, H / 2**i, W / 2**i)
    tensor per ``out_indices`` entry; ``self.out_channels`` lists the C_i.

    Raises:
        ValueError: bad arguments (unknown kernel/mode/skip_from/pool_type, fewer than two widths,
            wrong number of decoder widths, mean/std length != in_channels, out_indices out of
            range); in ``forward``, an input whose H or W is not a multiple of the total stride
            (message names the shape; resize, or pad with
            ``SegDataPreProcessor(size_divisor=2 ** (L - 1))``).
    """

    def __init__(self,
                 in_channels: int = 3,
                 widths: Sequence[int] = (16, 32, 64, 128, 256),
                 decoder_widths: Optional[Sequence[int]] = None,
                 fuse_channels: int = 256,
                 fuse_num_convs: int = 2,
                 decoder_num_convs: int = 1,
                 dropout_ratio: float = 0.2,
                 use_gradients: bool = True,
                 gradient_kernel: str = 'central',
                 gradient_mode: str = 'gray',
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 max_value: float = 255.,
                 gray_weights: Sequence[float] = (0.299, 0.587, 0.114),
                 skip_from: str = 'image',
                 pool_type: str = 'max',
                 out_indices: Sequence[int] = (0, ),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None):
        super().__init__(init_cfg)
        name = type(self).__name__
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2:
            raise ValueError(f'{name}: widths needs at least two modules, got {widths}')
        num_up = len(widths) - 1
        if decoder_widths is None:
            decoder_widths = widths[-2::-1]
        decoder_widths = tuple(int(w) for w in decoder_widths)
        if len(decoder_widths) != num_up:
            raise ValueError(f'{name}: decoder_widths {decoder_widths} must have '
                             f'len(widths) - 1 = {num_up} entries')
        if gradient_kernel not in _GRADIENT_KERNELS:
            raise ValueError(f'{name}: gradient_kernel must be one of '
                             f'{sorted(_GRADIENT_KERNELS)}, got {gradient_kernel!r}')
        if gradient_mode == 'grey':
            gradient_mode = 'gray'
        if gradient_mode not in ('gray', 'rgb'):
            raise ValueError(f"{name}: gradient_mode must be 'gray' or 'rgb', got "
                             f'{gradient_mode!r}')
        if skip_from not in ('image', 'all'):
            raise ValueError(f"{name}: skip_from must be 'image' or 'all', got {skip_from!r}")
        if pool_type not in ('max', 'avg'):
            raise ValueError(f"{name}: pool_type must be 'max' or 'avg', got {pool_type!r}")
        if fuse_num_convs < 1 or decoder_num_convs < 0:
            raise ValueError(f'{name}: need fuse_num_convs >= 1 and decoder_num_convs >= 0, got '
                             f'{fuse_num_convs} and {decoder_num_convs}')
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f'{name}: dropout_ratio must be in [0, 1), got {dropout_ratio}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i <= num_up for i in out_indices):
            raise ValueError(f'{name}: out_indices {out_indices} must be within 0..{num_up} '
                             '(index i = decoder feature at stride 2 ** i)')

        self.in_channels = in_channels
        self.widths = widths
        self.decoder_widths = decoder_widths
        self.use_gradients = use_gradients
        self.gradient_kernel = gradient_kernel
        self.gradient_mode = gradient_mode
        self.skip_from = skip_from
        self.out_indices = out_indices
        self.total_stride = 2**num_up
        self.max_value = float(max_value)

        def make_encoder(enc_in_channels):
            modules, c = [], enc_in_channels
            for i, w in enumerate(widths):
                modules.append(
                    _ConvModule3x3t(c, w, i < num_up, pool_type, conv_cfg, norm_cfg, act_cfg))
                c = w
            return nn.ModuleList(modules)

        self.image_encoder = make_encoder(in_channels)
        num_encoders = 1
        if use_gradients:
            if len(mean) != in_channels or len(std) != in_channels:
                raise ValueError(f'{name}: mean {tuple(mean)} and std {tuple(std)} need '
                                 f'in_channels = {in_channels} entries')
            if gradient_mode == 'gray':
                if in_channels == 3:
                    weights = torch.tensor(gray_weights, dtype=torch.float32)
                elif in_channels == 1:
                    weights = torch.ones(1)
                else:
                    raise ValueError(f"{name}: gradient_mode='gray' needs 1 or 3 input "
                                     f"channels, got {in_channels}; use gradient_mode='rgb'")
                grad_channels = 1
            else:
                weights = torch.ones(in_channels)
                grad_channels = in_channels
            kx = torch.tensor(_GRADIENT_KERNELS[gradient_kernel], dtype=torch.float32)
            # Constants, not learned and not saved in checkpoints (persistent=False).
            self.register_buffer(
                'img_mean',
                torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)
            self.register_buffer(
                'img_std',
                torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1),
                persistent=False)
            self.register_buffer('gray_weights', weights.view(1, -1, 1, 1), persistent=False)
            self.register_buffer(
                'kernel_dx', kx.expand(grad_channels, 1, 3, 3).clone(), persistent=False)
            self.register_buffer(
                'kernel_dy', kx.t().expand(grad_channels, 1, 3, 3).clone(), persistent=False)
            self.grad_channels = grad_channels
            self.dx_encoder = make_encoder(grad_channels)
            self.dy_encoder = make_encoder(grad_channels)
            num_encoders = 3

        fuse = []
        c = num_encoders * widths[-1]
        for _ in range(fuse_num_convs):
            fuse.append(
                ConvModule(
                    c,
                    fuse_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))
            c = fuse_channels
        self.fuse = nn.Sequential(*fuse)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()

        skip_mult = num_encoders if skip_from == 'all' else 1
        stages = []
        level_channels = [c]  # by decoder step; reversed below to index by stride
        for j, w in enumerate(decoder_widths):
            level = num_up - 1 - j  # encoder module whose pre-pool output has this resolution
            stage = _DecoderStage(c, skip_mult * widths[level], w, decoder_num_convs, conv_cfg,
                                  norm_cfg, act_cfg)
            stages.append(stage)
            c = stage.out_channels
            level_channels.append(c)
        self.decoder = nn.ModuleList(stages)
        level_channels = level_channels[::-1]
        self.out_channels = tuple(level_channels[i] for i in out_indices)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) normalised image -> (N, C, H, W) image in [0, 1] (``x*std+mean`` / max)."""
        return (x * self.img_std + self.img_mean) / self.max_value

    def compute_gradients(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fixed-kernel partial derivatives of the de-normalised image.

        Args:
            x (Tensor): (N, in_channels, H, W) normalised image.

        Returns:
            tuple[Tensor, Tensor]: d/dx and d/dy, each (N, G, H, W) with G = 1 ('gray') or
            in_channels ('rgb'), in [0, 1]-intensity units per pixel (x to the right, y down),
            values within [-0.5, 0.5]. Replicate padding at the borders.
        """
        img = self.denormalize(x)
        if self.gradient_mode == 'gray':
            img = (img * self.gray_weights).sum(dim=1, keepdim=True)
        img = F.pad(img, (1, 1, 1, 1), mode='replicate')
        dx = F.conv2d(img, self.kernel_dx, groups=self.grad_channels)
        dy = F.conv2d(img, self.kernel_dy, groups=self.grad_channels)
        return dx, dy

    @staticmethod
    def _encode(encoder: nn.ModuleList, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        skips = []
        for module in encoder:
            pre, x = module(x)
            skips.append(pre)
        return x, skips[:-1]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Encode image (and gradients), fuse, decode.

        Args:
            x (Tensor): (N, in_channels, H, W) normalised image, H and W multiples of
                ``self.total_stride``.

        Returns:
            tuple[Tensor]: decoder features for ``out_indices`` (stride 2 ** i each).

        Raises:
            ValueError: H or W not a multiple of ``self.total_stride``.
        """
        h, w = x.shape[-2:]
        if h % self.total_stride or w % self.total_stride:
            raise ValueError(
                f'{type(self).__name__}: input of shape {tuple(x.shape)} has H={h}, W={w} not '
                f'divisible by the total stride {self.total_stride} (2 ** (len(widths) - 1)); '
                f'resize the images (e.g. to 320x320) or pad them with '
                f'SegDataPreProcessor(size_divisor={self.total_stride})')
        bottleneck, skips = self._encode(self.image_encoder, x)
        bottlenecks = [bottleneck]
        skip_lists = [skips]
        if self.use_gradients:
            dx, dy = self.compute_gradients(x)
            for encoder, g in ((self.dx_encoder, dx), (self.dy_encoder, dy)):
                b, s = self._encode(encoder, g)
                bottlenecks.append(b)
                skip_lists.append(s)
            if self.skip_from == 'image':
                skip_lists = skip_lists[:1]
        y = self.dropout(self.fuse(torch.cat(bottlenecks, dim=1)))
        feats = [y]
        num_up = len(self.decoder)
        for j, stage in enumerate(self.decoder):
            level = num_up - 1 - j
            skip = torch.cat([s[level] for s in skip_lists], dim=1)
            y = stage(y, skip)
            feats.append(y)
        feats = feats[::-1]  # index i = stride 2 ** i
        return tuple(feats[i] for i in self.out_indices)
