"""Video input and output of ``tools/infer.py``: frames read and maps written with OpenCV alone.

OpenCV's ``VideoCapture`` / ``VideoWriter`` (the ``opencv-python`` wheels bundle their own FFmpeg
libraries, so no ``ffmpeg`` program is needed) read a video frame by frame and write the map
videos. Frames are predicted one batch at a time: a video of any length needs the memory of one
batch of frames.

Output videos are MPEG-4 Part 2 (FourCC ``mp4v``) in an ``.mp4`` container at the input's frame
rate (25 fps when the file does not say) and size; every OpenCV build with video support writes
it. Maps are written as grey frames in 3 channels (``uint8(rint(prob * 255))`` in each), so a
lossy codec changes the values slightly: the per-frame PNG files (``--video-output frames``) are
the exact maps.
"""
import os.path as osp
from typing import Iterator, Optional, Tuple

import numpy as np

__all__ = ['DEFAULT_FPS', 'VIDEO_FOURCC', 'VideoMapWriter', 'read_video_frames', 'video_info']

#: Frame rate written when the input video does not state one.
DEFAULT_FPS = 25.0
#: FourCC of the written videos (MPEG-4 Part 2, in ``.mp4``).
VIDEO_FOURCC = 'mp4v'


def _open(path: str):
    import cv2
    if not osp.isfile(path):
        raise FileNotFoundError(f'video file not found: {path}')
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise ValueError(f'cannot read video {path}: OpenCV cannot open it (not a video, or a '
                         'codec its FFmpeg libraries lack)')
    return cap


def video_info(path: str) -> dict:
    """Frame rate, frame count and frame size of a video, from its header.

    Args:
        path (str): video file.

    Returns:
        dict: ``fps`` (float, :data:`DEFAULT_FPS` when the file gives none), ``frames`` (int,
        as the container states it; 0 when unknown), ``width`` and ``height`` (pixels).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: OpenCV cannot open it (the message names it).
    """
    import cv2
    cap = _open(path)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        return dict(
            fps=float(fps) if fps and fps > 0 and np.isfinite(fps) else DEFAULT_FPS,
            frames=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def read_video_frames(path: str,
                      max_pixels: Optional[int] = None) -> Iterator[Tuple[int, np.ndarray]]:
    """Yield the frames of a video one at a time, in order.

    Args:
        path (str): video file.
        max_pixels (int, optional): most pixels (width x height) of a frame; checked on the
            header's frame size before any frame is decoded. None or 0: no limit. Defaults to
            None.

    Yields:
        tuple[int, np.ndarray]: the frame index (0, 1, ...) and the frame, (H, W, 3) uint8 BGR.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: OpenCV cannot open it, it holds no frame, or its frames have more than
            ``max_pixels`` pixels (the message names the file; a
            :class:`dbdseg.apis.inference.ImageTooLargeError` for the last).
    """
    import cv2
    info = video_info(path)
    if max_pixels and info['width'] * info['height'] > max_pixels:
        from dbdseg.apis.inference import ImageTooLargeError
        raise ImageTooLargeError(
            f'video {path} is too large: frames of {info["width"]} x {info["height"]} pixels, '
            f'more than the limit of {max_pixels / 1e6:.3g} megapixels (max_pixels='
            f'{max_pixels})')
    cap = _open(path)
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            yield index, frame
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise ValueError(f'cannot read video {path}: no frame could be decoded')


class VideoMapWriter:
    """Write frames (BGR images or grey maps) to a video file with OpenCV.

    Args:
        path (str): the file to write (``.mp4``); its folder must exist.
        fps (float): frame rate, > 0.
        size (tuple[int, int]): ``(width, height)`` of every frame.

    Raises:
        ValueError: OpenCV cannot open a writer for ``path`` (the message names it), a
            non-positive ``fps``, or (in :meth:`write`) a frame of another size.
    """

    def __init__(self, path: str, fps: float, size: Tuple[int, int]) -> None:
        import cv2
        if not fps > 0:
            raise ValueError(f'fps must be > 0, got {fps}')
        self.path = path
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        self._writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*VIDEO_FOURCC), float(fps),
                                       self.size)
        if not self._writer.isOpened():
            self._writer.release()
            raise ValueError(f'cannot write video {path}: OpenCV has no {VIDEO_FOURCC} encoder '
                             'here (use --video-output frames)')

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: (H, W, 3) uint8 BGR, or (H, W) uint8 grey (written in 3 channels)."""
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f'{self.path}: frame of {frame.shape[1]} x {frame.shape[0]} pixels '
                             f'in a video of {self.size[0]} x {self.size[1]}')
        self._writer.write(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> 'VideoMapWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
