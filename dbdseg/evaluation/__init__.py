"""Evaluation of binary maps: measures and DBD protocols (``functional``), the registered
``SODMetric`` (``metrics``), metric tables and the evaluation of folders of saved maps."""
from .functional import *  # noqa: F401,F403
from .metric_tables import (flatten_metrics, format_latex_table, format_markdown_table,
                            format_metric_blocks, lower_is_better, metric_blocks,
                            read_metrics_files, write_xlsx_table)
from .metrics import *  # noqa: F401,F403
from .per_image import PER_IMAGE_SOD_KEYS, per_image_rows, write_per_image_csv
from .pred_folder import (RESIZE_RULES, evaluate_folders, evaluate_pred_gt_folders, read_grey_mask,
                          read_prediction, resize_map)

__all__ = [
    'PER_IMAGE_SOD_KEYS', 'RESIZE_RULES', 'evaluate_pred_gt_folders', 'format_latex_table',
    'lower_is_better', 'per_image_rows', 'read_grey_mask', 'resize_map', 'write_per_image_csv',
    'write_xlsx_table', 'evaluate_folders', 'flatten_metrics', 'format_markdown_table',
    'format_metric_blocks', 'metric_blocks', 'read_metrics_files', 'read_prediction'
]
