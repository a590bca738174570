"""A vision checkpoint's image processor (its preprocessor_config.json), as transformers'
Pillow-backed processors apply it: images become the normalized (batch, channels,
height, width) pixel values the model was trained on.

Each step is transformers': resize with Pillow (to height x width, or the shorter side
to shortest_edge keeping the aspect ratio), crop the centre (padding with zeros where
the image is smaller), rescale (1/255), normalize by the mean and standard deviation
per channel.
"""

import dataclasses
import json
import os

import numpy as np

import ember
from ember.errors import DataError, SerializationError, ShapeError
from ember.io import atomic_write

from .huggingface import read_config

PROCESSOR_FILE = "preprocessor_config.json"


def _extent(size, what):
    """(height, width) of a {"height", "width"} size, or None for {"shortest_edge"}."""
    if isinstance(size, int):
        return size, size
    if isinstance(size, dict) and {"height", "width"} <= set(size):
        return int(size["height"]), int(size["width"])
    if isinstance(size, dict) and set(size) == {"shortest_edge"}:
        return None
    raise ValueError(f"ImageProcessor: {what} must be {{'height': h, 'width': w}} or "
                     f"{{'shortest_edge': n}}, got {size!r}")


@dataclasses.dataclass
class ImageProcessor:
    """The fields of transformers' image processor configs (ViTImageProcessor's, DeiT's,
    ConvNeXt's...) that change the pixels, with ViTImageProcessor's defaults.
    ``processor(images)`` gives float32 pixel values (batch, 3, height, width) for a
    Pillow image, a path to one, a uint8 array (height, width[, channels]) or a list of
    them."""

    do_resize: bool = True
    size: dict = dataclasses.field(default_factory=lambda: {"height": 224, "width": 224})
    resample: int = 2                   # Pillow's: 2 bilinear, 3 bicubic, 0 nearest
    do_center_crop: bool = False
    crop_size: dict = None
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    image_mean: tuple = (0.5, 0.5, 0.5)
    image_std: tuple = (0.5, 0.5, 0.5)
    do_convert_rgb: bool = True         # Pillow images of other modes (L, RGBA, P) as RGB
    image_processor_type: str = "ViTImageProcessor"

    def __post_init__(self):
        if self.do_resize:
            _extent(self.size, "size")
        if self.do_center_crop and _extent(self.crop_size, "crop_size") is None:
            raise ValueError(f"ImageProcessor: crop_size must be {{'height': h, 'width': w}}, "
                             f"got {self.crop_size!r}")
        if not np.all(np.asarray(self.image_std, np.float64) > 0):
            raise ValueError(f"ImageProcessor: image_std must be positive, got {self.image_std}")

    @classmethod
    def from_pretrained(cls, directory):
        """The processor a checkpoint directory's preprocessor_config.json describes."""
        values, path = read_config(directory, PROCESSOR_FILE)
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in values.items() if k in names and v is not None})
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"{path}: {exc}") from None

    def save_pretrained(self, directory):
        """Write preprocessor_config.json, which transformers' processors read."""
        os.makedirs(directory, exist_ok=True)
        atomic_write(os.path.join(directory, PROCESSOR_FILE),
                     (json.dumps(dataclasses.asdict(self), indent=2) + "\n").encode())

    def __call__(self, images, backend=None):
        if not isinstance(images, (list, tuple)):
            images = [images]
        pixels = [self.preprocess(image) for image in images]
        if len({p.shape for p in pixels}) > 1:
            raise ShapeError(f"ImageProcessor: the images came out of different sizes "
                             f"({', '.join(str(p.shape[1:]) for p in pixels)}); set "
                             f"do_center_crop and crop_size, or size's height and width")
        return ember.tensor(np.stack(pixels), backend=backend)

    def preprocess(self, image):
        """One image's pixel values (3, height, width) as float32."""
        image = self._image(image)
        if self.do_resize:
            image = image.resize(self._resized(image.height, image.width)[::-1],
                                 resample=self.resample)
        pixels = np.asarray(image)
        pixels = (pixels[..., None] if pixels.ndim == 2 else pixels).transpose(2, 0, 1)
        if self.do_center_crop:
            pixels = _center_crop(pixels, _extent(self.crop_size, "crop_size"))
        if self.do_rescale:
            pixels = (pixels.astype(np.float64) * self.rescale_factor).astype(np.float32)
        if self.do_normalize:
            mean, std = (np.asarray(v, np.float32).reshape(-1, 1, 1)
                         for v in (self.image_mean, self.image_std))
            pixels = (pixels.astype(np.float32) - mean) / std
        return pixels.astype(np.float32)

    def _image(self, image):
        """A Pillow image of ``image`` (RGB with do_convert_rgb)."""
        from PIL import Image
        if isinstance(image, (str, os.PathLike)):
            try:
                image = Image.open(image)
                image.load()
            except OSError as exc:
                raise DataError(f"ImageProcessor: cannot read {image}: {exc}") from None
        elif isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim not in (2, 3) or \
                    image.ndim == 3 and image.shape[2] not in (1, 3, 4):
                raise ShapeError(f"ImageProcessor: an array image must be uint8 pixels "
                                 f"(height, width) or (height, width, 1, 3 or 4 channels), got "
                                 f"{image.dtype} of shape {image.shape}; convert a float "
                                 f"image with (x * 255).round().astype(np.uint8)")
            image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1
                                    else image)
        elif not isinstance(image, Image.Image):
            raise TypeError(f"ImageProcessor: takes Pillow images, paths or uint8 arrays, got "
                            f"{type(image).__name__}")
        return image.convert("RGB") if self.do_convert_rgb and image.mode != "RGB" else image

    def _resized(self, height, width):
        """(height, width) after resizing: size's, or the shorter side at shortest_edge
        and the longer in proportion (rounded down, as transformers does)."""
        extent = _extent(self.size, "size")
        if extent is not None:
            return extent
        short, long = sorted((height, width))
        edge = int(self.size["shortest_edge"])
        new_long = int(edge * long / short)
        return (new_long, edge) if width <= height else (edge, new_long)


def _center_crop(pixels, extent):
    """The centre (height, width) of (channels, H, W) pixels, zeros around an image that
    is smaller (transformers' center_crop)."""
    (height, width), (h, w) = extent, pixels.shape[1:]
    pad_top, pad_left = -(-max(height - h, 0) // 2), -(-max(width - w, 0) // 2)
    if pad_top or pad_left:
        padded = np.zeros((pixels.shape[0], max(height, h), max(width, w)), pixels.dtype)
        padded[:, pad_top:pad_top + h, pad_left:pad_left + w] = pixels
        pixels = padded
    top, left = (h - height) // 2 + pad_top, (w - width) // 2 + pad_left
    return pixels[:, top:top + height, left:left + width]
