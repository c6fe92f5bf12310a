"""Python API: inference on your own images, teachers and the maps they write (depth targets,
saliency maps, pseudo labels), and the set-up of test runs that the tools share.

``IMG_EXTENSIONS`` and ``list_images`` are defined in :mod:`dbdseg.utils.fileio` and re-exported
here, where the first release had them."""
from dbdseg.utils.fileio import IMG_EXTENSIONS, list_images
from .inference import (DEFAULT_MAX_PIXELS, ImageTooLargeError, Teacher, TeacherError,
                        build_inference_pipelines, inference_model, init_model, read_image)
from .inference_jobs import (InferenceOutputFolder, collect_images, encode_outputs,
                             infer_output_paths)
from .map_targets import generate_depth_targets, normalize_depth, write_classical_saliency
from .output_guard import DatasetFolderError, exit_on_signals, guard_test_outputs
from .pseudo_label import PseudoLabelError, build_cue, generate_pseudo_labels, hard_unary
from .test_setup import (configure_evaluator, evaluator_metric_cfgs, metric_init_params,
                         protect_config_file, set_test_pipeline, trigger_visualization_hook)

__all__ = [
    'DEFAULT_MAX_PIXELS', 'DatasetFolderError', 'ImageTooLargeError', 'InferenceOutputFolder',
    'encode_outputs', 'exit_on_signals', 'guard_test_outputs', 'IMG_EXTENSIONS', 'PseudoLabelError',
    'Teacher', 'TeacherError', 'build_cue', 'build_inference_pipelines', 'collect_images',
    'configure_evaluator', 'evaluator_metric_cfgs', 'generate_depth_targets',
    'generate_pseudo_labels', 'hard_unary', 'inference_model', 'infer_output_paths', 'init_model',
    'list_images', 'metric_init_params', 'normalize_depth', 'protect_config_file', 'read_image',
    'set_test_pipeline', 'trigger_visualization_hook', 'write_classical_saliency'
]
