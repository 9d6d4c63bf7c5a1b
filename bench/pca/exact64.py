"""The exact answer for the parity check: PCA of a float32 .npy matrix in float64, by the
eigen-decomposition of the float64 Gram matrix of the centred rows (numpy/LAPACK eigh),
read in column blocks. Writes the projections of every row (n x k float32) and prints the
explained-variance ratios. (sklearn's PCA on float32 input computes in float32 and differs
from this by cosines down to ~0.97 on nearly degenerate noise components.)

    exact64.py X.npy K OUT.npy
"""
import json, sys
import numpy as np

x = np.load(sys.argv[1], mmap_mode='r')
k = int(sys.argv[2])
n, d = x.shape
mean = np.zeros(d)
block = max(1, (256 << 20) // (8 * n))
for c0 in range(0, d, block):
    mean[c0:c0 + block] = x[:, c0:c0 + block].astype(np.float64).mean(axis=0)
gram = np.zeros((n, n))
for c0 in range(0, d, block):
    centred = x[:, c0:c0 + block].astype(np.float64) - mean[c0:c0 + block]
    gram += centred @ centred.T
values, vectors = np.linalg.eigh(gram)
order = np.argsort(values)[::-1][:k]
values, vectors = values[order], vectors[:, order]
# sklearn's svd_flip (u-based): the largest |u| of each component is positive.
signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(k)])
np.save(sys.argv[3], np.ascontiguousarray(vectors * signs * np.sqrt(np.maximum(values, 0)), dtype=np.float32))
print(json.dumps({'ratio': (values / np.trace(gram)).tolist()}))
