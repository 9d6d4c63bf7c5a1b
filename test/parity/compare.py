#!/usr/bin/env python3
"""Compares two folders of <layer>.npy feature matrices (N x D) row by row and prints JSON:
per layer the smallest cosine similarity between matching rows and the largest error
relative to the reference's largest magnitude.

  compare.py --ours DIR --reference DIR --layers conv1,pool5
"""
import argparse
import json
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ours", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--layers", required=True)
    args = parser.parse_args()
    result = {}
    for layer in args.layers.split(","):
        ours = np.load(os.path.join(args.ours, f"{layer}.npy"), mmap_mode="r")
        ref = np.load(os.path.join(args.reference, f"{layer}.npy"), mmap_mode="r")
        if ours.shape != ref.shape:
            result[layer] = {"error": f"shape {ours.shape} vs reference {ref.shape}"}
            continue
        cosines, rel = [], []
        for a, b in zip(ours, ref):
            a = a.astype(np.float64)
            b = b.astype(np.float64)
            cosines.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
            rel.append(float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
        result[layer] = {"rows": int(ours.shape[0]), "dim": int(ours.shape[1]), "minCosine": min(cosines), "maxRelError": max(rel)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
