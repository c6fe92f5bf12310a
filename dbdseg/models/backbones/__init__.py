from .efficientnet_lite import EfficientNetLite
from .gradient_detail_encoder import GradientDetailEncoder
from .gradient_unet import GradientUNet
from .resnet_with_stem import ResNetWithStem
from .resnext_with_stem import ResNeXtWithStem
from .vgg_with_stem import VGGWithStem

__all__ = [
    'EfficientNetLite', 'GradientDetailEncoder', 'GradientUNet', 'ResNetWithStem',
    'ResNeXtWithStem', 'VGGWithStem'
]
