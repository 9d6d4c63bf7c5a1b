"""Seeded low-rank-plus-noise float32 matrix, written in row chunks (never whole in memory):
rows = latent @ loadings (power-law spectrum) + noise + a positive offset, like layer activations.

    generate.py OUT.npy ROWS COLUMNS [--rank R] [--noise S] [--seed N]
"""
import argparse
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument('out')
parser.add_argument('rows', type=int)
parser.add_argument('columns', type=int)
parser.add_argument('--rank', type=int, default=300)
parser.add_argument('--noise', type=float, default=0.3)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()

rng = np.random.default_rng(args.seed)
scale = (np.arange(1, args.rank + 1) ** -1.0).astype(np.float32)
out = np.lib.format.open_memmap(args.out, mode='w+', dtype=np.float32, shape=(args.rows, args.columns))
offset = rng.random(args.columns, dtype=np.float32)
# Loadings are generated per column block so that wide matrices need little memory.
block = max(1, min(args.columns, (256 << 20) // (4 * max(args.rank, args.rows))))
latent = rng.standard_normal((args.rows, args.rank), dtype=np.float32) * scale
for c0 in range(0, args.columns, block):
    c1 = min(args.columns, c0 + block)
    loadings = rng.standard_normal((args.rank, c1 - c0), dtype=np.float32) / np.sqrt(args.columns)
    noise = rng.standard_normal((args.rows, c1 - c0), dtype=np.float32) * (args.noise / np.sqrt(args.columns))
    out[:, c0:c1] = latent @ loadings + noise + offset[c0:c1]
out.flush()
