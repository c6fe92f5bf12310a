"""Metric helpers without mmengine state: pysodmetrics glue, prediction PNGs, curve files."""
from .curves import load_curves_json, plot_curves, save_curves_json
from .prediction_io import atomic_write_bytes, prob_to_uint8, save_prob_png
from .sod_measures import (FM_BETA2, NUM_THRESHOLDS, SOD_METRICS, WFM_BETA2, image_sod_measures,
                           mean_sod_curves, sod_thresholds, summarize_sod_measures)

__all__ = [
    'FM_BETA2', 'NUM_THRESHOLDS', 'SOD_METRICS', 'WFM_BETA2', 'atomic_write_bytes',
    'image_sod_measures', 'load_curves_json', 'mean_sod_curves', 'plot_curves', 'prob_to_uint8',
    'save_curves_json', 'save_prob_png', 'sod_thresholds', 'summarize_sod_measures'
]
