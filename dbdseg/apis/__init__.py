"""Python API: inference on your own images, teachers and the maps they write (depth targets,
saliency maps, pseudo labels), and the set-up of test runs that the tools share.

``IMG_EXTENSIONS`` and ``list_images`` are defined in :mod:`dbdseg.utils.fileio` and re-exported
here, where the first release had them."""
from dbdseg.utils.fileio import IMG_EXTENSIONS, list_images
from .depth_output import (DepthOutputHook, capture_depth, depth_module, depth_to_original,
                           write_depth_png)
from .inference import (DEFAULT_MAX_PIXELS, ImageTooLargeError, Teacher, TeacherError,
                        build_inference_pipelines, inference_model, init_model, max_side_size,
                        read_image)
from .inference_demo import predict_photo, render_views
from .inference_jobs import (OUTPUT_SUFFIXES, VIDEO_EXTENSIONS, InferenceOutputFolder,
                             collect_images, encode_image_outputs, encode_outputs, foreign_outputs,
                             infer_output_paths, job_output_paths)
from .inference_video import VideoMapWriter, read_video_frames, video_info
from .map_targets import generate_depth_targets, normalize_depth, write_classical_saliency
from .onnx_export import ProbabilityGraph, check_onnx, export_onnx, run_onnx
from .output_guard import DatasetFolderError, exit_on_signals, guard_test_outputs
from .pseudo_label import PseudoLabelError, build_cue, generate_pseudo_labels, hard_unary
from .test_setup import (configure_evaluator, drop_training_parts, evaluator_metric_cfgs,
                         metric_init_params, protect_config_file, set_test_pipeline,
                         trigger_visualization_hook)

__all__ = [
    'DepthOutputHook', 'capture_depth', 'depth_module', 'depth_to_original', 'write_depth_png',
    'max_side_size', 'predict_photo', 'render_views', 'OUTPUT_SUFFIXES', 'VIDEO_EXTENSIONS',
    'encode_image_outputs', 'foreign_outputs', 'job_output_paths', 'VideoMapWriter',
    'read_video_frames', 'video_info', 'ProbabilityGraph', 'check_onnx', 'export_onnx', 'run_onnx',
    'drop_training_parts', 'DEFAULT_MAX_PIXELS', 'DatasetFolderError', 'ImageTooLargeError',
    'InferenceOutputFolder', 'encode_outputs', 'exit_on_signals', 'guard_test_outputs',
    'IMG_EXTENSIONS', 'PseudoLabelError', 'Teacher', 'TeacherError', 'build_cue',
    'build_inference_pipelines', 'collect_images', 'configure_evaluator', 'evaluator_metric_cfgs',
    'generate_depth_targets', 'generate_pseudo_labels', 'hard_unary', 'inference_model',
    'infer_output_paths', 'init_model', 'list_images', 'metric_init_params', 'normalize_depth',
    'protect_config_file', 'read_image', 'set_test_pipeline', 'trigger_visualization_hook',
    'write_classical_saliency'
]
