from .accuracy import binary_accuracy
from .adb_loss import ADBLoss
from .balanced_bce_loss import BalancedBCELoss
from .depth_distillation_loss import DepthDistillationLoss
from .iou_loss import IoULoss
from .patch_swap_loss import hard_mining_weights, self_supervision_loss, weighted_bce_with_logits
from .ssim_loss import SSIMLoss

__all__ = [
    'ADBLoss', 'BalancedBCELoss', 'DepthDistillationLoss', 'IoULoss', 'SSIMLoss', 'binary_accuracy',
    'hard_mining_weights', 'self_supervision_loss', 'weighted_bce_with_logits'
]
