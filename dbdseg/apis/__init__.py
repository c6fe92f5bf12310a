"""Inference helpers for the user's own images (ARCHITECTURE.md Section 7, "Python API")."""
from .inference import (IMG_EXTENSIONS, build_inference_pipelines, inference_model, init_model,
                        list_images, read_image)

__all__ = [
    'IMG_EXTENSIONS', 'build_inference_pipelines', 'inference_model', 'init_model', 'list_images',
    'read_image'
]
