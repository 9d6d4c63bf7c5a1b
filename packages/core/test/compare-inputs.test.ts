/**
 * Layer comparison inputs: the building blocks (dot kernel, ranks, samples, metric names,
 * CSV cells) on hand-built cases, and every bad input refused with a message that names the
 * layer, row, cell or id at fault.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  argsortFloat64,
  centeredRanks,
  compareLayers,
  correlateRdmWithLayers,
  dotRows,
  linearCka,
  nearestNeighbors,
  openLayerDirectory,
  parseCsvLine,
  parseMetric,
  procrustes,
  rdmUpperTriangle,
  readIdsFile,
  readRdmFile,
  rsa,
  sampleIndices,
  spearman,
  validateRdm,
  type FeatureMatrix,
} from '../src/compare/index.js';
import { encodeNpy } from '../src/npy.js';
import { createRandom } from '../src/random.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-compare-inputs-'));

function randomMatrix(rows: number, columns: number, seed: number): FeatureMatrix {
  const random = createRandom(seed);
  return { data: Float32Array.from({ length: rows * columns }, () => random.normal()), rows, columns };
}

describe('dot kernel', () => {
  it('matches a naive triple loop for odd sizes, accumulation and the symmetric (Gram) mode', () => {
    const random = createRandom(1);
    for (const [m, n, k] of [
      [1, 1, 1],
      [5, 7, 3],
      [9, 13, 300],
      [70, 66, 260],
    ] as const) {
      const a = Float64Array.from({ length: m * k }, () => random.normal());
      const b = Float64Array.from({ length: n * k }, () => random.normal());
      const naive = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) naive[i * n + j] = (naive[i * n + j] as number) + (a[i * k + t] as number) * (b[j * k + t] as number);
      const out = new Float64Array(m * n).fill(1);
      dotRows(a, m, b, n, k, out, true);
      for (let i = 0; i < m * n; i++) expect(out[i]).toBeCloseTo((naive[i] as number) + 1, 10);
      const gram = new Float64Array(m * m);
      dotRows(a, m, a, m, k, gram, false, true);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          let sum = 0;
          for (let t = 0; t < k; t++) sum += (a[i * k + t] as number) * (a[j * k + t] as number);
          expect(gram[i * m + j]).toBeCloseTo(sum, 10);
        }
      }
    }
  });
});

describe('ranks and samples', () => {
  it('argsorts negatives, zeros, ties and large values stably', () => {
    const values = Float64Array.from([3, -1, 0, -0, 2.5, -1e300, 1e300, 3, -1]);
    const order = Array.from(argsortFloat64(values));
    expect(order.map((i) => values[i])).toEqual([-1e300, -1, -1, -0, 0, 2.5, 3, 3, 1e300]);
    expect(order.slice(1, 3)).toEqual([1, 8]); // stable among ties
    expect(Array.from(centeredRanks(Float64Array.from([10, 20, 20, 30])))).toEqual([-1.5, 0, 0, 1.5]);
    expect(spearman(Float64Array.from([1, 2, 3, 4]), Float64Array.from([10, 40, 30, 50]))).toBeCloseTo(0.8, 12);
  });

  it('samples distinct indices, ascending, the same for a seed', () => {
    const a = sampleIndices(73000, 2000, createRandom(4));
    expect(new Set(a).size).toBe(2000);
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(Array.from(sampleIndices(73000, 2000, createRandom(4)))).toEqual(Array.from(a));
    expect(Array.from(sampleIndices(5, 10, createRandom(4)))).toEqual([0, 1, 2, 3, 4]);
  });

  it('parses metric names and CSV cells', () => {
    expect(parseMetric('knn:20')).toEqual({ metric: 'knn', k: 20 });
    expect(parseMetric('knn')).toEqual({ metric: 'knn', k: 10 });
    expect(parseMetric('cka-debiased')).toEqual({ metric: 'cka-debiased' });
    expect(() => parseMetric('cca')).toThrow(/Unknown metric "cca"; expected one of cka, cka-debiased, rsa, knn/);
    expect(() => parseMetric('knn:0')).toThrow(/positive integer K, got "0"/);
    expect(() => parseMetric('rsa:3')).toThrow(/takes no ":" parameter/);
    expect(parseCsvLine(',"a,b","say ""hi""",c')).toEqual(['', 'a,b', 'say "hi"', 'c']);
  });
});

describe('bad feature input', () => {
  const a = randomMatrix(20, 6, 1);
  it('refuses layers with different row counts, naming both', async () => {
    await expect(linearCka(a, randomMatrix(19, 6, 2))).rejects.toThrow(/b has 19 rows but a has 20/);
    await expect(rsa(a, randomMatrix(19, 6, 2))).rejects.toThrow(/a has 20 rows but b has 19/);
    await expect(
      compareLayers(
        [
          { name: 'pool1', features: a },
          { name: 'pool2', features: randomMatrix(21, 6, 2) },
        ],
        { metric: 'knn' },
      ),
    ).rejects.toThrow(/pool2 has 21 rows but pool1 has 20/);
  });

  it('names the row holding NaN or Inf', async () => {
    const bad = { ...a, data: Float32Array.from(a.data) };
    bad.data[7 * 6 + 2] = NaN;
    await expect(linearCka(a, bad)).rejects.toThrow(/b: row 7 has NaN at column 2; expected finite values/);
    bad.data[7 * 6 + 2] = 0;
    bad.data[13 * 6] = Infinity;
    await expect(compareLayers([{ name: 'conv3', features: bad }, { name: 'conv4', features: a }], { metric: 'rsa' })).rejects.toThrow(/conv3: row 13 has Infinity at column 0/);
  });

  it('names a constant row (zero variance: Pearson undefined) and a zero row under cosine', async () => {
    const flat = { ...a, data: Float32Array.from(a.data) };
    flat.data.fill(0.25, 4 * 6, 5 * 6);
    await expect(rdmUpperTriangle(flat, { label: 'pool5' })).rejects.toThrow(/pool5: row 4 is constant \(zero variance across its features\)/);
    flat.data.fill(0, 4 * 6, 5 * 6);
    await expect(nearestNeighbors(flat, { k: 3, label: 'pool5' })).rejects.toThrow(/pool5: row 4 is all zeros.*cosine/);
    await expect(nearestNeighbors(flat, { k: 3, distance: 'euclidean' })).resolves.toHaveLength(60);
    await expect(rdmUpperTriangle(a, { rows: Int32Array.of(0, 25), label: 'pool5' })).rejects.toThrow(/pool5: row 25 requested, but there are 20 rows/);
  });

  it('refuses a layer with no variance at all, too few images, and a bad k', async () => {
    const same = { data: new Float32Array(20 * 6).fill(1), rows: 20, columns: 6 };
    await expect(linearCka(a, same)).rejects.toThrow(/b: every image has the same features/);
    await expect(linearCka(randomMatrix(3, 4, 1), randomMatrix(3, 4, 2), { debiased: true })).rejects.toThrow(/at least 4 images, got 3/);
    await expect(nearestNeighbors(a, { k: 20 })).rejects.toThrow(/k = 20 neighbours need at least 21 images, got 20/);
    await expect(linearCka(a, a, { method: 'gram', memoryBytes: 10 })).resolves.toBeCloseTo(1, 12); // forced route ignores the budget
    await expect(linearCka(randomMatrix(400, 400, 1), randomMatrix(400, 400, 2), { memoryBytes: 2 ** 20 })).rejects.toThrow(/more than the 1.0 MiB budget; reduce the features with PCA first/);
    await expect(linearCka(a, a, { kernel: 'gpu' as 'auto' })).rejects.toThrow(/Unknown kernel "gpu"; expected one of auto, onnxruntime, float64/);
  });

  it('refuses maps of different sizes and maps whose points coincide', () => {
    expect(() => procrustes(randomMatrix(10, 2, 1), randomMatrix(11, 2, 2))).toThrow(/10 x 2 and 11 x 2/);
    expect(() => procrustes(randomMatrix(10, 2, 1), { data: new Float32Array(20).fill(3), rows: 10, columns: 2 })).toThrow(/second map: all 10 points coincide/);
  });
});

describe('external RDMs', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const good = Float64Array.from([0, 1, 2, 3, 1, 0, 4, 5, 2, 4, 0, 6, 3, 5, 6, 0]);

  it('refuses non-square, asymmetric, non-zero-diagonal, non-finite matrices and duplicate ids', () => {
    expect(() => validateRdm(good.subarray(0, 12), 4, ids, 'brain')).toThrow(/12 values is not a square 4 x 4 matrix/);
    const asymmetric = Float64Array.from(good);
    asymmetric[1 * 4 + 2] = 4.5;
    expect(() => validateRdm(asymmetric, 4, ids, 'brain')).toThrow(/not symmetric: \[b, c\] = 4.5 but \[c, b\] = 4/);
    const similarity = Float64Array.from(good);
    similarity[2 * 4 + 2] = 1;
    expect(() => validateRdm(similarity, 4, ids, 'brain')).toThrow(/diagonal cell \[c, c\] \(row 2\) is 1; expected ~0.*similarity\/correlation matrix/);
    const missing = Float64Array.from(good);
    missing[3] = NaN;
    expect(() => validateRdm(missing, 4, ids, 'brain')).toThrow(/cell \[a, d\] \(row 0, column 3\) is NaN/);
    expect(() => validateRdm(good, 4, ['a', 'b', 'a', 'd'], 'brain')).toThrow(/"a" appears twice \(rows 0 and 2\)/);
    const roundOff = Float64Array.from(good);
    roundOff[1] = 1 + 1e-9;
    expect(validateRdm(roundOff, 4, ids, 'brain').size).toBe(4); // float32-level asymmetry passes
  });

  it('reads a labelled CSV, a bare CSV with ids, and .npy (float64, Fortran order) with ids', () => {
    const csv = join(dir, 'brain.csv');
    writeFileSync(csv, ',a,b,"c,1",d\r\na,0,1,2,3\r\nb,1,0,4,5\r\n"c,1",2,4,0,6\r\nd,3,5,6,0\r\n');
    const labelled = readRdmFile(csv);
    expect(labelled.ids).toEqual(['a', 'b', 'c,1', 'd']);
    expect(Array.from(labelled.values)).toEqual(Array.from(good));
    const bare = join(dir, 'bare.csv');
    writeFileSync(bare, '0,1,2,3\n1,0,4,5\n2,4,0,6\n3,5,6,0\n');
    expect(() => readRdmFile(bare)).toThrow(/no header row of image ids/);
    expect(Array.from(readRdmFile(bare, { ids }).values)).toEqual(Array.from(good));
    const idsFile = join(dir, 'ids.json');
    writeFileSync(idsFile, JSON.stringify({ rows: ids.map((id, index) => ({ index, id })) }));
    expect(readIdsFile(idsFile)).toEqual(ids);
    writeFileSync(join(dir, 'ids.txt'), 'a\nb\nc\nd\n');
    expect(readIdsFile(join(dir, 'ids.txt'))).toEqual(ids);
    // float64 .npy, Fortran order (the transpose of a symmetric matrix is itself).
    const npy = join(dir, 'brain.npy');
    const header = "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 4), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const bytes = new Uint8Array(10 + padded.length + good.byteLength);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length & 0xff, padded.length >> 8]);
    bytes.set(Buffer.from(padded, 'latin1'), 10);
    bytes.set(new Uint8Array(good.buffer), 10 + padded.length);
    writeFileSync(npy, bytes);
    expect(() => readRdmFile(npy)).toThrow(/a .npy RDM has no image ids/);
    expect(Array.from(readRdmFile(npy, { ids }).values)).toEqual(Array.from(good));
    // A sample of 3 images keeps their rows and columns.
    const sampled = readRdmFile(csv, { maxImages: 3, seed: 1 });
    expect(sampled.size).toBe(3);
  });

  it('refuses ragged and mislabelled CSVs, naming the line', () => {
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, ',a,b,c\na,0,1,2\nb,1,0\nc,2,3,0\n');
    expect(() => readRdmFile(ragged)).toThrow(/line 3 has 2 values, expected 3/);
    const tall = join(dir, 'tall.csv');
    writeFileSync(tall, ',a,b,c\na,0,1,2\nb,1,0,3\n');
    expect(() => readRdmFile(tall)).toThrow(/2 data rows for 3 image ids; an RDM must be square/);
    const swapped = join(dir, 'swapped.csv');
    writeFileSync(swapped, ',a,b,c\nb,1,0,3\na,0,1,2\nc,2,3,0\n');
    expect(() => readRdmFile(swapped)).toThrow(/line 2 is labelled "b" but column 1 is "a"/);
    const text = join(dir, 'text.csv');
    writeFileSync(text, ',a,b,c\na,0,x,2\nb,1,0,3\nc,2,3,0\n');
    expect(() => readRdmFile(text)).toThrow(/line 2, column for image "b": "x" is not a finite number/);
    expect(() => readRdmFile(join(dir, 'brain.mat'))).toThrow(/unsupported RDM file type ".mat"/);
  });

  it('refuses image ids that no layer has, listing them', async () => {
    const rdm = validateRdm(good, 4, ['img1', 'img9', 'img2', 'img77'], 'brain.csv');
    const features = randomMatrix(5, 4, 3);
    await expect(correlateRdmWithLayers(rdm, [{ name: 'pool1', features }], ['img0', 'img1', 'img2', 'img3', 'img4'])).rejects.toThrow(
      /brain.csv: 2 of 4 image ids are not among the 5 images with features: "img9", "img77" \(feature ids look like "img0", "img1", "img2"\)/,
    );
  });
});

describe('strata extract folders', () => {
  it('opens DIR/images.json + <layer>.npy in network order and checks row counts', () => {
    const out = join(dir, 'features');
    mkdirSync(out);
    const pool5 = randomMatrix(6, 4, 1);
    const conv2 = randomMatrix(6, 3, 2);
    writeFileSync(join(out, 'pool5.npy'), encodeNpy(pool5.data as Float32Array, [6, 4]));
    writeFileSync(join(out, 'conv2.npy'), encodeNpy(conv2.data as Float32Array, [6, 3]));
    const rows = Array.from({ length: 6 }, (_, index) => ({ index, id: String(index) }));
    writeFileSync(
      join(out, 'images.json'),
      JSON.stringify({ layers: [{ name: 'pool5', file: 'pool5.npy' }, { name: 'conv2', file: 'conv2.npy' }], rows, failures: [] }),
    );
    const opened = openLayerDirectory(out);
    expect(opened.layers.map((l) => l.name)).toEqual(['conv2', 'pool5']);
    expect(opened.ids).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(Array.from(opened.layers[1]?.features.read(2, 4, 1, 3) ?? [])).toEqual([pool5.data[9], pool5.data[10], pool5.data[13], pool5.data[14]]);
    opened.close();
    expect(() => openLayerDirectory(out, ['pool4'])).toThrow(/has no layer "pool4"; it holds pool5, conv2/);
    writeFileSync(join(out, 'images.json'), JSON.stringify({ layers: [{ name: 'pool5', file: 'pool5.npy' }], rows: rows.slice(0, 5) }));
    expect(() => openLayerDirectory(out)).toThrow(/pool5.npy: 6 rows but images.json lists 5 images/);
    expect(() => openLayerDirectory(dir + '/nowhere')).toThrow(/no images.json; expected a folder written by `strata extract`/);
  });
});
