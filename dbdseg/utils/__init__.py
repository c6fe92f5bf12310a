"""Utilities of dbdseg. Importing this package is light (numpy and OpenCV only): torch and mmseg
are imported by the modules that need them (``checkpoint``, ``runtime``, ``benchmark``,
``model_conversion``), on demand."""
from .crf import crf_pseudo_label, dense_crf
from .fileio import (IMG_EXTENSIONS, OutputExistsError, atomic_copy, atomic_write_bytes,
                     atomic_write_json, atomic_write_text, claim_output, collect_images,
                     commit_file, imwrite_atomic, is_hidden, list_image_stems, list_images,
                     prob_to_uint8)
from .saliency import centre_prior, frequency_tuned_saliency, spectral_residual_saliency
from .set_env import register_all_modules
from .sharpness import gradient_energy_map
from .version_guard import check_versions

__all__ = [
    'IMG_EXTENSIONS', 'OutputExistsError', 'claim_output', 'is_hidden', 'atomic_copy',
    'atomic_write_bytes', 'atomic_write_json', 'atomic_write_text', 'centre_prior',
    'check_versions', 'collect_images', 'commit_file', 'crf_pseudo_label', 'dense_crf',
    'frequency_tuned_saliency', 'gradient_energy_map', 'imwrite_atomic', 'list_image_stems',
    'list_images', 'prob_to_uint8', 'register_all_modules', 'spectral_residual_saliency'
]
