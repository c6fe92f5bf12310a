"""Synthetic defocus: thin-lens blur rendered onto sharp photos, to train defocus blur detection.

Design notes: ``docs/en/synthetic_defocus.md`` (render choices that transferred to real defocus
photos). The command-line front end is ``tools/dataset_converters/synthesize_defocus.py``.

Quick use::

    import numpy as np
    from dbdseg.datasets.synthesis import DefocusRenderConfig, bundled_scenes, render_defocus

    name, images = bundled_scenes()[0]
    out = render_defocus(images[0], np.random.default_rng(0), DefocusRenderConfig())
    out['image'], out['mask']  # uint8 HxWx3 RGB, uint8 HxW with 255 = in-focus
"""
from .config import DefocusRenderConfig
from .layout import DepthLayout, Layer, random_blob, sample_focus, sample_layout, soften_mask
from .render import finish_image, render_defocus, render_layout, render_sample, sample_source_crop
from .render_set import OUTPUT_ITEMS, split_scenes, synthesize_dataset
from .sources import (BUNDLED_ORIGINS, IMAGE_EXTENSIONS, ImageReadError, Scene, bundled_scenes,
                      folder_scenes, read_image, read_mask)
from .thin_lens import (disk_blur, disk_kernel, fill_holes, linear_to_srgb, srgb_to_linear,
                        thin_lens_coc, variable_disk_blur)

__all__ = [
    'DefocusRenderConfig', 'DepthLayout', 'Layer', 'random_blob', 'sample_focus', 'sample_layout',
    'soften_mask', 'finish_image', 'render_defocus', 'render_layout', 'render_sample',
    'sample_source_crop', 'OUTPUT_ITEMS', 'split_scenes', 'synthesize_dataset', 'BUNDLED_ORIGINS',
    'IMAGE_EXTENSIONS', 'ImageReadError', 'Scene', 'bundled_scenes', 'folder_scenes', 'read_image',
    'read_mask', 'disk_blur', 'disk_kernel', 'fill_holes', 'linear_to_srgb', 'srgb_to_linear',
    'thin_lens_coc', 'variable_disk_blur'
]
