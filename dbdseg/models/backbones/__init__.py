from .gradient_unet import GradientUNet
from .resnet_with_stem import ResNetWithStem
from .resnext_with_stem import ResNeXtWithStem

__all__ = ['GradientUNet', 'ResNetWithStem', 'ResNeXtWithStem']
