"""Bad-input fixtures for packages/core/test/bad-input.test.ts and test/bad-input.test.ts,
written with the reference PIL, h5py and numpy.

    bad_inputs.py images DIR REFDIR   writes image files into DIR; prints one JSON line per file
                                      with what PIL's Image.open(f).convert('RGB') does:
                                      {file, mode, width, height} (the RGB bytes in
                                      REFDIR/FILE.pil.rgb) or {file, error}
    bad_inputs.py hdf5 DIR            writes HDF5 files that are no readable uint8 image brick

The decompression bombs are small files: a 30,000 x 30,000 1-bit PNG of zeros (about 110 KB,
2.7 GB as RGB) and a small JPEG whose frame header says 30,000 x 30,000.
"""
import io
import json
import os
import struct
import sys
import zlib

import h5py
import numpy as np
from PIL import Image

SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data'
BOMB = 30_000


def photo(name, size):
    return Image.open(os.path.join(SKIMAGE_DATA, name)).convert('RGB').resize(size, Image.BILINEAR)


def encoded(im, fmt, **options):
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind, body):
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


def png(width, height, bit_depth, colour_type, idat):
    return (b'\x89PNG\r\n\x1a\n'
            + png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, bit_depth, colour_type, 0, 0, 0))
            + png_chunk(b'IDAT', idat) + png_chunk(b'IEND', b''))


def jpeg_segments(jpeg):
    """(offset, marker) of each header segment before the scan."""
    pos = 2
    while pos + 4 <= len(jpeg):
        marker = jpeg[pos + 1]
        yield pos, marker
        if marker == 0xDA:
            return
        pos += 2 + struct.unpack('>H', jpeg[pos + 2:pos + 4])[0]


def bogus_huffman_table(jpeg):
    """Sets the 16 code-length counts of the first DHT table to 255: more codes than can exist."""
    out = bytearray(jpeg)
    pos = next(pos for pos, marker in jpeg_segments(jpeg) if marker == 0xC4)
    out[pos + 5:pos + 21] = b'\xff' * 16
    return bytes(out)


def frame_size(jpeg, width, height):
    """Rewrites the size in the SOF segment (precision at +4, height at +5, width at +7)."""
    out = bytearray(jpeg)
    pos = next(pos for pos, marker in jpeg_segments(jpeg) if marker in (0xC0, 0xC1, 0xC2))
    out[pos + 5:pos + 9] = struct.pack('>HH', height, width)
    return bytes(out)


def flipped_idat_byte(data):
    """XORs a byte in the middle of the first IDAT's data, leaving the chunk's CRC as it was."""
    out = bytearray(data)
    pos = data.index(b'IDAT')
    length = struct.unpack('>I', data[pos - 4:pos])[0]
    out[pos + 4 + length // 2] ^= 0x5A
    return bytes(out)


def bomb_png():
    """30,000 x 30,000, 1 bit per pixel, every row zero, deflated one row at a time."""
    row = b'\x00' * (1 + (BOMB + 7) // 8)
    deflate = zlib.compressobj(9)
    idat = b''.join(deflate.compress(row) for _ in range(BOMB)) + deflate.flush()
    return png(BOMB, BOMB, 1, 0, idat)


def rgb16_png(width=96, height=64):
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing='ij')
    samples = ((x * 677 + y * 1031 + c * 20011) % 65536).astype('>u2')
    raw = b''.join(b'\x00' + samples[r].tobytes() for r in range(height))
    return png(width, height, 16, 2, zlib.compress(raw))


def images(out, refdir):
    os.makedirs(out, exist_ok=True)
    os.makedirs(refdir, exist_ok=True)
    good_jpeg = encoded(photo('chelsea.png', (160, 120)), 'JPEG', quality=90)
    good_png = encoded(photo('astronaut.png', (128, 128)), 'PNG')
    files = {
        'good.jpg': good_jpeg,
        'good.png': good_png,
        'corrupt.jpg': bogus_huffman_table(good_jpeg),
        'corrupt.png': flipped_idat_byte(good_png),
        'truncated.jpg': good_jpeg[:len(good_jpeg) // 2],
        'truncated.png': good_png[:len(good_png) // 2],
        'rgb16.png': rgb16_png(),
        'cmyk.jpg': encoded(photo('coffee.png', (120, 80)).convert('CMYK'), 'JPEG', quality=90),
        'bomb.png': bomb_png(),
        'bomb.jpg': frame_size(good_jpeg, BOMB, BOMB),
    }
    for name, data in sorted(files.items()):
        path = os.path.join(out, name)
        with open(path, 'wb') as f:
            f.write(data)
        try:
            with Image.open(path) as im:
                mode = im.mode
                rgb = im.convert('RGB')
            with open(os.path.join(refdir, name + '.pil.rgb'), 'wb') as f:
                f.write(rgb.tobytes())
            print(json.dumps({'file': name, 'bytes': len(data), 'mode': mode, 'width': rgb.width, 'height': rgb.height}))
        except Exception as error:  # what PIL raises is the point here
            print(json.dumps({'file': name, 'bytes': len(data), 'error': f'{type(error).__name__}: {error}'}))


def hdf5(out):
    os.makedirs(out, exist_ok=True)
    rgb = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    with h5py.File(os.path.join(out, 'float32.h5'), 'w') as f:
        f.create_dataset('imgBrick', data=rgb.astype(np.float32))
    with h5py.File(os.path.join(out, 'rank2.h5'), 'w') as f:
        f.create_dataset('imgBrick', data=rgb.reshape(len(rgb), -1))
    with h5py.File(os.path.join(out, 'lzf.h5'), 'w') as f:
        f.create_dataset('imgBrick', data=rgb, chunks=(1, 32, 32, 3), compression='lzf')
    # Chunks never written take no room: a few KB declaring two 30,000 x 30,000 images.
    with h5py.File(os.path.join(out, 'bomb.h5'), 'w') as f:
        f.create_dataset('imgBrick', shape=(2, BOMB, BOMB, 3), dtype=np.uint8, chunks=(1, 500, 500, 3), compression='gzip')


if __name__ == '__main__':
    if sys.argv[1] == 'images':
        images(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'hdf5':
        hdf5(sys.argv[2])
    else:
        raise SystemExit(__doc__)
