"""numpy/scipy/sklearn side of bench/compare/run.mjs and shortcut-error.mjs: the same layer
matrices computed the way a researcher would in Python, timed in-process (loading excluded).

  python3 reference.py DIR  (reads DIR/params.json and DIR/<layer>.npy, prints JSON)
"""
import json, sys, time
import numpy as np
import scipy.stats
from sklearn.neighbors import NearestNeighbors

d = sys.argv[1]
p = json.load(open(d + '/params.json'))
X = [np.load(f"{d}/{name}.npy").astype(np.float64) for name in p['layers']]
L = len(X)
out = {}

if 'cka' in p['metrics']:
    t = time.perf_counter()
    Xc = [x - x.mean(0) for x in X]
    self = [np.linalg.norm(x.T @ x) for x in Xc]
    M = np.eye(L)
    for a in range(L):
        for c in range(a + 1, L):
            M[a, c] = M[c, a] = np.linalg.norm(Xc[a].T @ Xc[c]) ** 2 / (self[a] * self[c])
    out['cka'] = {'seconds': time.perf_counter() - t, 'matrix': M.tolist()}

if 'rsa' in p['metrics']:
    t = time.perf_counter()
    rows = np.array(p['rsa_rows'])
    iu = np.triu_indices(len(rows), 1)
    R = np.empty((L, len(iu[0])))
    for l, x in enumerate(X):
        R[l] = scipy.stats.rankdata((1 - np.corrcoef(x[rows]))[iu])
    out['rsa'] = {'seconds': time.perf_counter() - t, 'matrix': np.corrcoef(R).tolist()}

if 'knn' in p['metrics']:
    t = time.perf_counter()
    k = p['k']
    queries = np.array(p['queries'])
    lists = []
    for x in X:
        nn = NearestNeighbors(n_neighbors=k + 1, metric=p['distance'], algorithm='brute').fit(x)
        idx = nn.kneighbors(x[queries], return_distance=False)
        # Drop the query itself (normally first); if a tie pushed it out, drop the last instead.
        keep = np.array([np.delete(row, np.where(row == q)[0][0]) if q in row else row[:k] for row, q in zip(idx, queries)])
        lists.append(np.sort(keep, axis=1))
    M = np.eye(L)
    for a in range(L):
        for c in range(a + 1, L):
            both = np.sort(np.concatenate([lists[a], lists[c]], axis=1), axis=1)
            common = (both[:, 1:] == both[:, :-1]).sum(1)
            M[a, c] = M[c, a] = np.mean(common / (2 * k - common))
    out['knn'] = {'seconds': time.perf_counter() - t, 'matrix': M.tolist()}

if 'mantel' in p['metrics']:
    # The brain-RDM test as a numpy user writes it: Spearman of each layer's RDM with the
    # external RDM, and the same for each permutation of the external RDM's image labels.
    t = time.perf_counter()
    rows = np.array(p['rsa_rows'])
    m = len(rows)
    iu = np.triu_indices(m, 1)
    ext = np.load(d + '/external.npy').astype(np.float64)
    ranks = np.array([scipy.stats.rankdata((1 - np.corrcoef(x[rows]))[iu]) for x in X])
    ranks -= ranks.mean(1, keepdims=True)
    ranks /= np.linalg.norm(ranks, axis=1, keepdims=True)
    e = scipy.stats.rankdata(ext[iu]); e -= e.mean(); e /= np.linalg.norm(e)
    square = np.zeros((m, m)); square[iu] = e; square += square.T
    observed = ranks @ e
    count = np.zeros(L)
    for perm in p['perms']:
        perm = np.array(perm)
        count += ranks @ square[np.ix_(perm, perm)][iu] >= observed - 1e-12
    out['mantel'] = {'seconds': time.perf_counter() - t, 'matrix': [observed.tolist(), ((count + 1) / (len(p['perms']) + 1)).tolist()]}

print(json.dumps(out))
