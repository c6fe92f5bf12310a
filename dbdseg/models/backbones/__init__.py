from .gradient_unet import GradientUNet
from .resnet_with_stem import ResNetWithStem
from .resnext_with_stem import ResNeXtWithStem
from .vgg_with_stem import VGGWithStem

__all__ = ['GradientUNet', 'ResNetWithStem', 'ResNeXtWithStem', 'VGGWithStem']
