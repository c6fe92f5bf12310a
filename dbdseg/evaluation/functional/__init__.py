"""Metric helpers without mmengine state: pysodmetrics glue, DBD protocols, prediction PNGs,
curve files."""
from .a2s_protocol import (A2S_KEYS, A2S_NUM_BINS, a2s_image_record, a2s_mask, a2s_normalize_pred,
                           summarize_a2s)
from .curves import (THRESHOLD_SCALE, load_curves_json, plot_curves, plot_curves_grid,
                     save_curves_json)
from .dbd_protocols import (DBD_BETA2, DBD_PROTOCOL_KEYS, DBD_PROTOCOLS, DD_FACTOR, DD_QUANTIZE,
                            FIXED_THRESHOLD, POSITIVE_CLASSES, PROTOCOL_MASK_RULES, PROTOCOL_RESIZE,
                            binary_counts, canonical_positive, check_dbd_options,
                            check_dbd_protocols, dbd_image_counts, dbd_image_values,
                            dbd_protocol_keys, dd_binarize, dd_quantize_map, dd_threshold,
                            iou_from_counts, precision_recall_fmeasure, summarize_dbd_protocols)
from .prediction_io import save_prob_png
from .sod_measures import (EM_MAX, FM_BETA2, NUM_THRESHOLDS, SOD_METRICS, WFM_BETA2, check_pred_gt,
                           image_sod_measures, is_binary_mask, mean_sod_curves, sod_thresholds,
                           summarize_sod_measures)

__all__ = [
    'A2S_KEYS', 'A2S_NUM_BINS', 'a2s_image_record', 'a2s_mask', 'a2s_normalize_pred',
    'summarize_a2s', 'THRESHOLD_SCALE', 'DD_QUANTIZE', 'PROTOCOL_MASK_RULES', 'PROTOCOL_RESIZE',
    'dd_quantize_map', 'dbd_image_values', 'EM_MAX', 'DBD_BETA2', 'DBD_PROTOCOLS',
    'DBD_PROTOCOL_KEYS', 'DD_FACTOR', 'FIXED_THRESHOLD', 'FM_BETA2', 'NUM_THRESHOLDS',
    'POSITIVE_CLASSES', 'SOD_METRICS', 'WFM_BETA2', 'binary_counts', 'canonical_positive',
    'check_dbd_options', 'check_dbd_protocols', 'check_pred_gt', 'dbd_image_counts',
    'dbd_protocol_keys', 'dd_binarize', 'dd_threshold', 'image_sod_measures', 'is_binary_mask',
    'iou_from_counts', 'load_curves_json', 'mean_sod_curves', 'plot_curves', 'plot_curves_grid',
    'precision_recall_fmeasure', 'save_curves_json', 'save_prob_png', 'sod_thresholds',
    'summarize_dbd_protocols', 'summarize_sod_measures'
]
