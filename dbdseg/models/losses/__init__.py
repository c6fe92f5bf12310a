from .adb_loss import ADBLoss
from .balanced_bce_loss import BalancedBCELoss
from .depth_distillation_loss import DepthDistillationLoss
from .iou_loss import IoULoss
from .ssim_loss import SSIMLoss

__all__ = ['ADBLoss', 'BalancedBCELoss', 'DepthDistillationLoss', 'IoULoss', 'SSIMLoss']
