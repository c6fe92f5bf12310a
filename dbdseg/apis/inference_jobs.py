"""The input images of a folder-to-folder inference run and the files each one writes.

``tools/infer.py`` writes, for every input image ``<stem>.<ext>``, ``<out_dir>/<stem>.png`` (the
8-bit probability map) and ``<out_dir>/<stem>_overlay.jpg`` (the heat-map overlay). Before any
model is loaded, :func:`collect_images` checks that the outputs of two inputs never collide and
that no output replaces an input.
"""
import os.path as osp
from typing import List, Sequence, Tuple

from dbdseg.utils.fileio import collect_images as fileio_collect_images

__all__ = ['collect_images', 'infer_output_paths']


def infer_output_paths(out_dir: str, stem: str) -> Tuple[str, str]:
    """The files written for an input image named ``<stem>.<ext>``.

    Args:
        out_dir (str): the output folder.
        stem (str): the image file name without its suffix.

    Returns:
        tuple[str, str]: ``(<out_dir>/<stem>.png, <out_dir>/<stem>_overlay.jpg)``: the
        probability map and the overlay.
    """
    return osp.join(out_dir, f'{stem}.png'), osp.join(out_dir, f'{stem}_overlay.jpg')


def collect_images(inputs: Sequence[str], out_dir: str) -> List[Tuple[str, str]]:
    """Expand files and folders into the images to predict, with their output stems.

    Folders contribute their image files (:data:`dbdseg.utils.fileio.IMG_EXTENSIONS`, sorted by
    name, not sub-folders, not hidden files such as macOS ``._*`` metadata); a file named on its
    own is taken whatever its suffix (:func:`dbdseg.utils.fileio.collect_images`).

    Args:
        inputs (Sequence[str]): image files and/or folders.
        out_dir (str): the output folder (see :func:`infer_output_paths`).

    Returns:
        list[tuple[str, str]]: ``(image path, stem)`` pairs in input order.

    Raises:
        FileNotFoundError: an input does not exist (the message names it).
        ValueError: no image was found; two inputs have the same stem (they would write the same
            outputs; the message names both); or an output would overwrite an input image.
    """
    return fileio_collect_images(
        inputs, lambda stem: infer_output_paths(out_dir, stem), hint='another --out-dir')
