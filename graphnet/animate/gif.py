"""An animation as a GIF: each frame drawn by Graphviz in its pass's one layout, put together by Pillow (the
``animate`` extra)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from ..app.files import write_bytes
from ..render import Fixed
from ..render.backends import skeleton
from .frame import Frame

DPI = 96  # 1 pt of the picture is 1.33 px, as a browser shows an SVG: 11 pt numbers are 9 px high
MAX_WIDTH = 1800  # px: a GIF is looked at whole; a wider picture is drawn smaller (the page zooms into it)


def write_gif(frames: Sequence[Frame], path: str | Path, dpi: float = DPI) -> Path:
    """An animated GIF of the frames, each shown for its ``seconds``, looping; each run of frames laid out
    alike (a pass) is laid out once and drawn at ``dpi``, or smaller if it would be wider than ``MAX_WIDTH``
    pixels (the time to draw a frame grows with its pixels)."""
    from PIL import Image

    images = []
    fixed: Fixed | None = None
    for frame in frames:
        if fixed is None or skeleton(frame.picture.source) != fixed.skeleton:
            fixed = Fixed(frame.picture, Path(path))
            shown = min(dpi, 72 * MAX_WIDTH / fixed.width)
        images.append(Image.open(io.BytesIO(fixed.draw(frame.picture, "png", round(shown, 2)))).convert("RGB"))
    # The passes may differ in size by a little (their legends): pad them all to the largest.
    width, height = max(i.width for i in images), max(i.height for i in images)
    padded = []
    for image in images:
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(image, (0, 0))
        padded.append(canvas)
    # One palette for every frame, made from a sample of all of their pixels (NEAREST keeps colours exact):
    # a frame then differs from the one before only where the picture does, and the file is a tenth the size.
    sample = Image.new("RGB", (width // 4, (height // 4) * len(padded)))
    for i, image in enumerate(padded):
        sample.paste(image.resize((width // 4, height // 4), Image.Resampling.NEAREST), (0, i * (height // 4)))
    palette = sample.quantize(colors=256, dither=Image.Dither.NONE)
    frames_p = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in padded]
    out = io.BytesIO()
    frames_p[0].save(out, format="GIF", save_all=True, append_images=frames_p[1:], loop=0, optimize=True,
                     duration=[round(frame.seconds * 1000) for frame in frames])
    return write_bytes(path, out.getvalue())
