"""Metric helpers without mmengine state: pysodmetrics glue, DBD protocols, prediction PNGs,
curve files."""
from .curves import load_curves_json, plot_curves, plot_curves_grid, save_curves_json
from .dbd_protocols import (DBD_BETA2, DBD_PROTOCOL_KEYS, DBD_PROTOCOLS, DD_FACTOR, FIXED_THRESHOLD,
                            POSITIVE_CLASSES, binary_counts, canonical_positive, check_dbd_options,
                            check_dbd_protocols, dbd_image_counts, dbd_protocol_keys, dd_binarize,
                            dd_threshold, iou_from_counts, precision_recall_fmeasure,
                            summarize_dbd_protocols)
from .prediction_io import save_prob_png
from .sod_measures import (EM_MAX, FM_BETA2, NUM_THRESHOLDS, SOD_METRICS, WFM_BETA2, check_pred_gt,
                           image_sod_measures, is_binary_mask, mean_sod_curves, sod_thresholds,
                           summarize_sod_measures)

__all__ = [
    'EM_MAX', 'DBD_BETA2', 'DBD_PROTOCOLS', 'DBD_PROTOCOL_KEYS', 'DD_FACTOR', 'FIXED_THRESHOLD',
    'FM_BETA2', 'NUM_THRESHOLDS', 'POSITIVE_CLASSES', 'SOD_METRICS', 'WFM_BETA2', 'binary_counts',
    'canonical_positive', 'check_dbd_options', 'check_dbd_protocols', 'check_pred_gt',
    'dbd_image_counts', 'dbd_protocol_keys', 'dd_binarize', 'dd_threshold', 'image_sod_measures',
    'is_binary_mask', 'iou_from_counts', 'load_curves_json', 'mean_sod_curves', 'plot_curves',
    'plot_curves_grid', 'precision_recall_fmeasure', 'save_curves_json', 'save_prob_png',
    'sod_thresholds', 'summarize_dbd_protocols', 'summarize_sod_measures'
]
