#!/usr/bin/env python3
"""The PyTorch recipe Strata productises, as a reference for parity tests and benchmarks
(never a runtime dependency):

    torchvision vgg16().features, Resize(224), CenterCrop(224), ToTensor, ImageNet Normalize,
    one image at a time, each layer flattened with np.concatenate(tensor, axis=None).

Images come from a folder (sorted by relative path, as Strata orders them) or an HDF5 brick.
The network is torchvision's vgg16(weights=None) after torch.manual_seed(--model-seed), or
the pretrained weights with --pretrained (needs them in torch's cache).

  recipe.py --images PATH [--dataset imgBrick] [--limit N] --layers pool1,pool5 --out DIR
            [--model-seed S] [--threads T] [--time]

Writes DIR/<layer>.npy (float32, N x D). With --time prints images/s of the loop (after one
warm-up pass, as Strata's benchmark does).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
POOL_INDICES = [4, 9, 16, 23, 30]
INDEX_OF = {**{f"conv{k}": i for k, i in enumerate(CONV_INDICES, 1)}, **{f"pool{k}": i for k, i in enumerate(POOL_INDICES, 1)}}
EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")


def list_images(args):
    if os.path.isdir(args.images):
        paths = []
        for folder, _, files in os.walk(args.images):
            for name in files:
                if name.lower().endswith(EXTENSIONS):
                    paths.append(os.path.relpath(os.path.join(folder, name), args.images).replace(os.sep, "/"))
        # Strata sorts by UTF-16 code units; for the ASCII names used in tests that equals this.
        paths.sort()
        paths = paths[: args.limit] if args.limit else paths
        return len(paths), lambda i: Image.open(os.path.join(args.images, paths[i])).convert("RGB")
    import h5py

    brick = h5py.File(args.images, "r")[args.dataset]
    n = min(args.limit, brick.shape[0]) if args.limit else brick.shape[0]
    return n, lambda i: Image.fromarray(brick[i])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True)
    parser.add_argument("--dataset", default="imgBrick")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--layers", required=True)
    parser.add_argument("--out")
    parser.add_argument("--model-seed", type=int, default=0)
    parser.add_argument("--pretrained", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--time", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    layers = [name.strip() for name in args.layers.split(",")]
    torch.manual_seed(args.model_seed)
    weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1 if args.pretrained else None
    model = torchvision.models.vgg16(weights=weights).eval()
    deepest = max(INDEX_OF[name] for name in layers)
    features = model.features[: deepest + 1]

    captured = {}
    for name in layers:
        def hook(_module, _inputs, output, name=name):
            # ReLU is inplace: copy the Conv output before it is overwritten.
            captured[name] = output.detach().clone()
        features[INDEX_OF[name]].register_forward_hook(hook)

    transform = transforms.Compose([
        transforms.Resize(224),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])

    count, load = list_images(args)
    rows = {name: [] for name in layers}
    if args.time and count > 0:
        with torch.no_grad():
            features(transform(load(0)).unsqueeze(0))  # warm-up, not timed
    started = time.perf_counter()
    with torch.no_grad():
        for i in range(count):
            x = transform(load(i)).unsqueeze(0)
            features(x)
            for name in layers:
                rows[name].append(np.concatenate(captured[name].numpy(), axis=None))
    elapsed = time.perf_counter() - started
    if args.time:
        print(f"{count / elapsed:.3f} images/s ({count} images in {elapsed:.2f} s)")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name in layers:
            np.save(os.path.join(args.out, f"{name}.npy"), np.stack(rows[name]).astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
