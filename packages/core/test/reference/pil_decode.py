"""Reference for decode.ts: PIL's `Image.open(f).convert('RGB')`.

    pil_decode.py fixtures DIR   writes one image file per case the decoder must handle into DIR
    pil_decode.py decode FILE..  for each FILE writes FILE.pil.rgb (raw RGB bytes, row-major) and
                                 prints one JSON line {file, mode, width, height} or {file, error}

Cases are built from the photos that python3-skimage ships, so that JPEG/WebP artefacts, chroma
subsampling and colour conversions are exercised on real content, plus hand-written PNGs for the
bit depths and colour types that PIL cannot save itself.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data'


def photo(name, box=None):
    im = Image.open(os.path.join(SKIMAGE_DATA, name)).convert('RGB')
    return im.crop(box) if box else im


def write_png(path, array, bit_depth, colour_type, palette=None, trns=None):
    """A minimal PNG encoder (filter 0 on every row) for the modes PIL cannot write."""
    height, width = array.shape[:2]
    samples = array.reshape(height, -1)
    rows = []
    for row in samples:
        if bit_depth == 16:
            data = row.astype('>u2').tobytes()
        elif bit_depth == 8:
            data = row.astype(np.uint8).tobytes()
        else:
            per_byte = 8 // bit_depth
            padded = np.zeros(((len(row) + per_byte - 1) // per_byte) * per_byte, np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per_byte, np.uint8)
            for i in range(per_byte):
                packed |= padded[i::per_byte] << (8 - bit_depth * (i + 1))
            data = packed.tobytes()
        rows.append(b'\x00' + data)

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))

    out = b'\x89PNG\r\n\x1a\n'
    out += chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, bit_depth, colour_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b'PLTE', bytes(palette))
    if trns is not None:
        out += chunk(b'tRNS', trns)
    out += chunk(b'IDAT', zlib.compress(b''.join(rows)))
    out += chunk(b'IEND', b'')
    with open(path, 'wb') as f:
        f.write(out)


def strip_adobe_marker(jpeg):
    """Drops the APP14 'Adobe' segment, leaving a CMYK JPEG that PIL still inverts."""
    pos = 2
    while pos < len(jpeg):
        marker = jpeg[pos + 1]
        length = struct.unpack('>H', jpeg[pos + 2 : pos + 4])[0]
        if marker == 0xEE and jpeg[pos + 4 : pos + 9] == b'Adobe':
            return jpeg[:pos] + jpeg[pos + 2 + length :]
        if marker == 0xDA:
            break
        pos += 2 + length
    raise ValueError('no Adobe marker')


def fixtures(out):
    rng = np.random.default_rng(20240611)
    astro = photo('astronaut.png')
    cat = photo('chelsea.png')
    coffee = photo('coffee.png')

    def save(name, im, **kw):
        im.save(os.path.join(out, name), **kw)

    # JPEG: chroma subsampling variants, progressive, odd sizes (edge blocks), greyscale.
    save('rgb-420.jpg', astro, quality=90)
    save('rgb-444.jpg', cat, quality=95, subsampling=0)
    save('rgb-422-progressive.jpg', coffee, quality=80, subsampling=1, progressive=True)
    save('rgb-odd-333x251.jpg', cat.crop((50, 20, 383, 271)), quality=85)
    save('rgb-425x425.jpg', astro.resize((425, 425), Image.BILINEAR), quality=90)
    save('grey.jpg', coffee.convert('L'), quality=90)
    # CMYK: PIL writes an Adobe marker (inverted CMYK); the stripped one tests the other branch.
    cmyk = cat.convert('CMYK')
    cmyk_array = np.array(cmyk)
    cmyk_array[..., 3] = rng.integers(0, 120, cmyk_array.shape[:2])  # some black ink too
    cmyk = Image.fromarray(cmyk_array, 'CMYK')
    save('cmyk-adobe.jpg', cmyk, quality=95)
    buf = io.BytesIO()
    cmyk.save(buf, 'JPEG', quality=95)
    with open(os.path.join(out, 'cmyk-no-adobe.jpg'), 'wb') as f:
        f.write(strip_adobe_marker(buf.getvalue()))
    # EXIF orientation 6: PIL's open does not rotate, so neither may we.
    exif = Image.Exif()
    exif[0x0112] = 6
    save('exif-rotate-90.jpg', cat, quality=90, exif=exif.tobytes())

    # PNG: every colour type and bit depth.
    save('rgb.png', coffee)
    save('grey.png', coffee.convert('L'))
    save('bilevel.png', coffee.convert('1'))
    la = coffee.convert('LA')
    la.putalpha(Image.fromarray(rng.integers(0, 256, (coffee.height, coffee.width), dtype=np.uint8)))
    save('grey-alpha.png', la)
    rgba = cat.convert('RGBA')
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (cat.height, cat.width), dtype=np.uint8)))
    save('rgba.png', rgba)  # convert('RGB') drops alpha: no compositing
    save('palette.png', cat.quantize(200))
    save('palette-trns.png', cat.quantize(64), transparency=3)
    save('palette-4bit.png', cat.quantize(16), bits=4)
    small = np.array(cat.resize((97, 61)))
    grey = np.array(cat.convert('L').resize((97, 61)))
    write_png(os.path.join(out, 'grey-2bit.png'), grey >> 6, 2, 0)
    write_png(os.path.join(out, 'grey-4bit.png'), grey >> 4, 4, 0)
    write_png(os.path.join(out, 'grey-trns.png'), grey, 8, 0, trns=struct.pack('>H', 128))
    write_png(os.path.join(out, 'rgb-trns.png'), small, 8, 2, trns=struct.pack('>HHH', 10, 20, 30))
    grey16 = rng.integers(0, 65536, grey.shape, dtype=np.uint16)
    grey16[:, :20] = rng.integers(0, 300, (grey.shape[0], 20))  # values around 255: the clip
    write_png(os.path.join(out, 'grey-16bit.png'), grey16, 16, 0)
    write_png(os.path.join(out, 'grey-16bit-trns.png'), grey16, 16, 0, trns=struct.pack('>H', 1000))
    la16 = np.stack([grey16, rng.integers(0, 65536, grey.shape, dtype=np.uint16)], axis=-1)
    write_png(os.path.join(out, 'grey-alpha-16bit.png'), la16, 16, 4)
    rgb16 = small.astype(np.uint16) * 257 + rng.integers(0, 257, small.shape, dtype=np.uint16)
    write_png(os.path.join(out, 'rgb-16bit.png'), rgb16, 16, 2)
    rgba16 = np.concatenate([rgb16, rng.integers(0, 65536, grey.shape + (1,), dtype=np.uint16)], -1)
    write_png(os.path.join(out, 'rgba-16bit.png'), rgba16, 16, 6)
    Image.fromarray(grey16).save(os.path.join(out, 'grey-16bit-pil.png'))  # PIL's own I;16 writer

    # WebP: lossy (YUV 4:2:0 upsampling), lossless, with alpha.
    save('rgb-lossy.webp', astro, quality=80)
    save('rgb-lossless.webp', cat, lossless=True)
    save('rgba-lossy.webp', rgba, quality=75)

    # TIFF: compressions, greyscale, alpha, CMYK, 16 bits.
    save('rgb.tif', cat)
    save('rgb-lzw.tif', coffee, compression='tiff_lzw')
    save('rgb-deflate.tif', astro, compression='tiff_adobe_deflate')
    save('grey.tif', coffee.convert('L'), compression='tiff_lzw')
    save('rgba.tif', rgba)
    save('cmyk.tif', cmyk)
    Image.fromarray(grey16).save(os.path.join(out, 'grey-16bit.tif'))
    Image.fromarray(grey16).save(os.path.join(out, 'grey-16bit-lzw.tif'), compression='tiff_lzw')


def decode(files):
    for path in files:
        try:
            with Image.open(path) as im:
                mode = im.mode
                rgb = im.convert('RGB')
            with open(path + '.pil.rgb', 'wb') as f:
                f.write(rgb.tobytes())
            print(json.dumps({'file': path, 'mode': mode, 'width': rgb.width, 'height': rgb.height}))
        except Exception as error:  # the caller compares: PIL failing is a result too
            print(json.dumps({'file': path, 'error': repr(error)}))


if __name__ == '__main__':
    command, args = sys.argv[1], sys.argv[2:]
    if command == 'fixtures':
        fixtures(args[0])
    elif command == 'decode':
        decode(args)
    else:
        raise SystemExit(f'unknown command {command!r}: expected fixtures or decode')
