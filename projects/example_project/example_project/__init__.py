"""The example project of dbdseg (projects/README.md): a backbone, a decode head and a loss,
registered into mmseg's ``MODELS`` registry (scope ``mmseg``) when this package is imported.

Configs load it with ``custom_imports = dict(imports=['dbdseg',
'projects.example_project.example_project'], allow_failed_imports=False)``; run the tools from the
repository root.
"""
from .soft_iou_loss import SoftIoULoss
from .tiny_sharp_head import TinySharpHead
from .tiny_sharp_net import TinySharpNet

__all__ = ['SoftIoULoss', 'TinySharpHead', 'TinySharpNet']
