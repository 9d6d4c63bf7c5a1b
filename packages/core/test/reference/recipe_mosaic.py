"""Reference for the t-SNE mosaic: the classic notebook recipe, verbatim in its loop.

    recipe_mosaic.py --images PATH [--dataset imgBrick] --coords Y.npy --out map.png
                     [--width 4000] [--height 3000] [--tile 100]

PATH is an HDF5 file (rows of DATASET, N x H x W x 3 uint8, via Image.fromarray) or a folder
(image files found recursively, in sorted() order of their '/'-separated relative paths, as
Strata's folder source orders them). Prints {"seconds": ..., "count": ...} (seconds from the
first image read to the saved PNG).
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
from PIL import Image

EXTENSIONS = ('.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff')


def folder_images(root):
    found = []
    for directory, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(EXTENSIONS):
                found.append(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, '/'))
    return [os.path.join(root, relative) for relative in sorted(found)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--images', required=True)
    parser.add_argument('--dataset', default='imgBrick')
    parser.add_argument('--coords', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--width', type=int, default=4000)
    parser.add_argument('--height', type=int, default=3000)
    parser.add_argument('--tile', type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter('ignore', DeprecationWarning)  # Image.ANTIALIAS, kept as the notebook spells it

    tsne = np.load(args.coords)
    started = time.perf_counter()
    if os.path.isdir(args.images):
        images = folder_images(args.images)
        open_tile = Image.open
    else:
        import h5py
        brick = h5py.File(args.images, 'r')[args.dataset]
        images = range(brick.shape[0])
        open_tile = lambda i: Image.fromarray(brick[i])

    # --- the recipe ---
    tx, ty = tsne[:, 0], tsne[:, 1]
    tx = (tx - np.min(tx)) / (np.max(tx) - np.min(tx))
    ty = (ty - np.min(ty)) / (np.max(ty) - np.min(ty))
    width, height, max_dim = args.width, args.height, args.tile
    full_image = Image.new('RGBA', (width, height))
    count = 0
    for img, x, y in zip(images, tx, ty):
        tile = open_tile(img)
        rs = max(1, tile.width / max_dim, tile.height / max_dim)
        tile = tile.resize((int(tile.width / rs), int(tile.height / rs)), Image.ANTIALIAS)
        full_image.paste(tile, (int((width - max_dim) * x), int((height - max_dim) * y)), mask=tile.convert('RGBA'))
        count += 1
    full_image.save(args.out)
    # --- end of the recipe ---
    print(json.dumps({'seconds': time.perf_counter() - started, 'count': count}))


if __name__ == '__main__':
    main()
