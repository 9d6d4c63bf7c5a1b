"""Reference for pil-resize.ts: Pillow's `Image.resize(size, Image.BILINEAR)`.

    pil_resize.py SRC MODE WIDTH HEIGHT OUT_W OUT_H [OUT_W OUT_H ...]

SRC holds raw interleaved bytes of a WIDTH x HEIGHT image in MODE (L, La, RGB or RGBa: the
modes Pillow resamples channel by channel, without premultiplying alpha). For each target
size, writes SRC.<OUT_W>x<OUT_H>.raw.
"""
import sys

from PIL import Image


def main(src, mode, width, height, *sizes):
    with open(src, 'rb') as f:
        image = Image.frombytes(mode, (int(width), int(height)), f.read())
    for i in range(0, len(sizes), 2):
        size = (int(sizes[i]), int(sizes[i + 1]))
        resized = image.resize(size, Image.BILINEAR)
        with open(f'{src}.{size[0]}x{size[1]}.raw', 'wb') as f:
            f.write(resized.tobytes())


if __name__ == '__main__':
    main(*sys.argv[1:])
