"""An uploaded file made into an image that is safe to keep and serve, without I/O.

The format is read from the bytes, never the name or the Content-Type sent: only JPEG,
PNG, WebP and GIF are accepted. The image is decoded (within a pixel budget, so a small
file that unpacks to gigabytes is refused before it is) and encoded again, which leaves
every piece of metadata behind: EXIF with its GPS position, comments, ICC profiles,
anything appended after the image. A JPEG's orientation is applied to the pixels first,
so the picture still stands the right way up without its EXIF.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Larger than any photo a phone takes (~50 MP), far below what exhausts a worker.
MAX_PIXELS = 60_000_000
MAX_FRAMES = 500  # an animated GIF's
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


class ImageRefused(ValueError):
    """Not an image this site keeps; the message says why, in words."""


@dataclass(frozen=True)
class CleanImage:
    format: str  # a key of FORMATS
    data: bytes
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def _opened(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise ImageRefused(
                    f"That image is {image.width:,} × {image.height:,} pixels; "
                    f"at most {MAX_PIXELS // 1_000_000} million are kept."
                )
            image.load()
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("That image unpacks to far more pixels than it says.") from None
    except UnidentifiedImageError:
        raise ImageRefused("That file is not a JPEG, PNG, WebP or GIF image.") from None
    except (OSError, ValueError, SyntaxError):
        raise ImageRefused("That image is damaged or cut short.") from None
    return image


def clean(data: bytes) -> CleanImage:
    """The image in ``data``, encoded again with nothing but its pixels."""
    image = _opened(data)
    kind = image.format or ""
    if kind not in FORMATS:
        raise ImageRefused("That file is not a JPEG, PNG, WebP or GIF image.")
    out = io.BytesIO()
    frames = getattr(image, "n_frames", 1)
    if frames > MAX_FRAMES:
        raise ImageRefused(f"That animation has {frames:,} frames; at most {MAX_FRAMES} are kept.")
    try:
        if kind == "JPEG":
            upright = ImageOps.exif_transpose(image)
            upright = upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright
            upright.save(out, "JPEG", quality=88, optimize=True)
        elif kind == "PNG":
            image.save(out, "PNG", optimize=True)
        elif kind == "WEBP":
            if frames > 1:
                image.save(out, "WEBP", save_all=True, lossless=False, quality=88)
            else:
                image.save(out, "WEBP", quality=88)
        else:  # GIF, every frame of an animation
            image.save(out, "GIF", save_all=frames > 1)
    except (OSError, ValueError) as error:
        raise ImageRefused(f"That image could not be read through: {error}.") from None
    width, height = image.size
    if kind == "JPEG":
        width, height = Image.open(io.BytesIO(out.getvalue())).size  # turned upright
    return CleanImage(kind, out.getvalue(), width, height)
