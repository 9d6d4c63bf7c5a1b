"""sklearn's PCA on a .npy matrix, timed: fit + transform of every row, for the full and the
randomized solver. Prints one JSON line; writes the projections for the parity check.

    sklearn_pca.py X.npy K OUT_PREFIX [--solvers full,randomized] [--whiten]
"""
import argparse, json, resource, time
import numpy as np
from sklearn.decomposition import PCA

parser = argparse.ArgumentParser()
parser.add_argument('x')
parser.add_argument('k', type=int)
parser.add_argument('prefix')
parser.add_argument('--solvers', default='full,randomized')
parser.add_argument('--whiten', action='store_true')
args = parser.parse_args()

started = time.perf_counter()
x = np.load(args.x)
result = {'load_seconds': time.perf_counter() - started}
for solver in args.solvers.split(','):
    started = time.perf_counter()
    pca = PCA(n_components=args.k, svd_solver=solver, whiten=args.whiten, random_state=0).fit(x)
    y = pca.transform(x)
    result[solver] = {'seconds': time.perf_counter() - started, 'ratio': pca.explained_variance_ratio_.tolist()}
    np.save(f'{args.prefix}-{solver}.npy', y.astype(np.float32))
result['max_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
