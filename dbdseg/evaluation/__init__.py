"""Evaluation of binary maps: measures and DBD protocols (``functional``), the registered
``SODMetric`` (``metrics``), metric tables and the evaluation of folders of saved maps."""
from .functional import *  # noqa: F401,F403
from .metric_tables import (flatten_metrics, format_markdown_table, format_metric_blocks,
                            metric_blocks, read_metrics_files)
from .metrics import *  # noqa: F401,F403
from .pred_folder import evaluate_folders, read_prediction

__all__ = [
    'evaluate_folders', 'flatten_metrics', 'format_markdown_table', 'format_metric_blocks',
    'metric_blocks', 'read_metrics_files', 'read_prediction'
]
