"""Visualization of binary maps: the registered ``BinarySegLocalVisualizer`` (image | ground truth |
probability heat map | prediction panels) and the dataset browser's drawing."""
from .browse import draw_sample, sample_arrays, write_dataset_pictures
from .local_visualizer import BinarySegLocalVisualizer

__all__ = ['BinarySegLocalVisualizer', 'draw_sample', 'sample_arrays', 'write_dataset_pictures']
