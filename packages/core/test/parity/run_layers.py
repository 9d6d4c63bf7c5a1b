#!/usr/bin/env python3
"""Reference activations: runs torchvision's VGG16 (random init from --model-seed, exactly as
export_vgg16.py builds it) on an input batch and saves all 18 catalog layers.

Used only by Strata's parity tests and CI (never at runtime).

  --input X.npy   float32 [N, 3, 224, 224] (already preprocessed)
  --out DIR       writes DIR/conv1.npy .. DIR/conv13.npy, DIR/pool1.npy .. DIR/pool5.npy,
                  each float32 [N, C, H, W]

conv_k is the output of the k-th Conv2d *before* its ReLU. torchvision's ReLUs are
inplace, so the hook clones the Conv output before the ReLU overwrites it.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision

# torchvision vgg16().features indices of the catalog layers (packages/core/src/layers.ts).
CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
POOL_INDICES = [4, 9, 16, 23, 30]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-seed", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.manual_seed(args.model_seed)
    model = torchvision.models.vgg16(weights=None).eval()

    x = np.load(args.input)
    if x.dtype != np.float32 or x.ndim != 4 or x.shape[1:] != (3, 224, 224):
        raise SystemExit(f"--input must be float32 [N, 3, 224, 224]; got {x.dtype} {list(x.shape)}")

    layers = {}
    for k, idx in enumerate(CONV_INDICES, start=1):
        layers[idx] = f"conv{k}"
    for k, idx in enumerate(POOL_INDICES, start=1):
        layers[idx] = f"pool{k}"

    captured = {}

    def hook_for(name):
        def hook(_module, _inputs, output):
            captured[name] = output.detach().clone()
        return hook

    for idx, name in layers.items():
        module = model.features[idx]
        expected = torch.nn.Conv2d if name.startswith("conv") else torch.nn.MaxPool2d
        if not isinstance(module, expected):
            raise SystemExit(f"features[{idx}] is {type(module).__name__}, expected {expected.__name__}")
        module.register_forward_hook(hook_for(name))

    with torch.no_grad():
        model.features(torch.from_numpy(x))

    os.makedirs(args.out, exist_ok=True)
    for name, value in captured.items():
        np.save(os.path.join(args.out, f"{name}.npy"), value.numpy().astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
