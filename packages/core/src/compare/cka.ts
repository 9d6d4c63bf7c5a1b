/**
 * Linear centered kernel alignment (Kornblith et al. 2019):
 *   CKA(X, Y) = HSIC(X, Y) / sqrt(HSIC(X, X) HSIC(Y, Y)),  HSIC(X, Y) = ||Xcᵀ Yc||_F²
 * with Xc, Yc the column-centered features, and optionally the debiased HSIC (the unbiased
 * estimator of Song et al. 2012, as used by Nguyen et al. 2021), which removes the pull of
 * CKA towards 1 when images are few compared with features.
 *
 * Two exact routes, chosen by cost within a memory budget:
 * - features: stream rows once (after a pass for column means) and accumulate every
 *   D_a x D_c cross-product Xcᵀ Yc. Memory is independent of N; for 18 layers of 256 PCA
 *   components it is 88 MB, and 73,000 images cost only time.
 * - gram: the N x N centered Gram of each layer, accumulated over column blocks. Memory is
 *   independent of D (a raw 3.2M-wide conv1 is fine) but grows with N².
 * Either runs on the float64 kernel or on onnxruntime's float32 products (./kernel.ts).
 */
import { dotRows, transpose } from './dot.js';
import { readRowsInto, toSource, type FeatureInput, type FeatureSource, type NamedFeatures } from './features.js';
import { gramOfRows } from './gram.js';
import { chooseKernel, openMatrixKernels, type Kernel, type MatrixKernels } from './kernel.js';

export type CkaMethod = 'auto' | 'features' | 'gram';

export interface CkaOptions {
  /** Use the debiased (unbiased) HSIC estimator. Default false. */
  readonly debiased?: boolean;
  /** 'auto' (default) picks the cheaper exact route that fits `memoryBytes`. */
  readonly method?: CkaMethod;
  /** Most bytes of working memory. Default 1 GiB. */
  readonly memoryBytes?: number;
  /** 'auto' (default), 'onnxruntime' or 'float64'; see ./kernel.ts. */
  readonly kernel?: Kernel;
  /** Called after each block of rows (features) or each layer (gram). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export const DEFAULT_MEMORY_BYTES = 2 ** 30;

interface Plan {
  readonly method: 'features' | 'gram';
  readonly bytes: number;
  /** Multiply-adds of the route. */
  readonly cost: number;
  readonly kernel: 'onnxruntime' | 'float64';
}

/** Images per float32 product on onnxruntime: few enough that float32 sums stay short, enough for Gemm to run at speed. */
const ONNX_BLOCK_ROWS = 512;

function pairSum(dims: readonly number[]): number {
  let sum = 0;
  for (let a = 0; a < dims.length; a++) for (let c = a; c < dims.length; c++) sum += (dims[a] as number) * (dims[c] as number);
  return sum;
}

/** Which route, and why not the other: exported so callers can report it before a long run. */
export function planCka(rows: number, dims: readonly number[], options: Pick<CkaOptions, 'method' | 'memoryBytes' | 'kernel'> = {}): Plan {
  const budget = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  const layers = dims.length;
  const total = dims.reduce((s, d) => s + d, 0);
  const featureCost = rows * pairSum(dims);
  const gramCost = (rows * rows * total) / 2 + ((layers * (layers + 1)) / 2) * rows * rows;
  const featureKernel = chooseKernel(options.kernel, featureCost);
  const gramKernel = chooseKernel(options.kernel, gramCost);
  // float64: every pair's cross-product; onnxruntime: the whole (sum D)² matrix, its float32 panels and one float32 block.
  const featureBytes =
    featureKernel === 'float64' ? 8 * pairSum(dims) + 8 * rows * layers : 8 * total * total + 4 * total * total * (10 / 16) + 4 * total * ONNX_BLOCK_ROWS + 8 * rows * layers;
  const gramBytes = 8 * layers * rows * rows + (gramKernel === 'onnxruntime' ? 4 * rows * rows : 0);
  const features = { method: 'features' as const, bytes: featureBytes, cost: featureCost, kernel: featureKernel };
  const gram = { method: 'gram' as const, bytes: gramBytes, cost: gramCost, kernel: gramKernel };
  const method = options.method ?? 'auto';
  if (method === 'features') return features;
  if (method === 'gram') return gram;
  if (method !== 'auto') throw new RangeError(`Unknown CKA method "${String(method)}"; expected auto, features or gram`);
  const fits = [...(featureBytes <= budget ? [features] : []), ...(gramBytes <= budget ? [gram] : [])].sort((p, q) => p.cost - q.cost);
  const best = fits[0];
  if (!best) {
    const gib = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
    throw new RangeError(
      `CKA over ${rows} images with feature dimensions ${dims.join(', ')} needs ${gib(featureBytes)} (cross-products) ` +
        `or ${gib(gramBytes)} (Gram matrices), more than the ${gib(budget)} budget; reduce the features with PCA first ` +
        '(CKA of PCA scores that keep all variance is exact), compare fewer images, or raise memoryBytes',
    );
  }
  return best;
}

function undefinedCka(name: string): RangeError {
  return new RangeError(`${name}: every image has the same features (zero variance after centering), so CKA with it is undefined`);
}

/** Kornblith's `_debiased_dot_product_similarity_helper`: the unbiased HSIC up to a factor common to all pairs. */
function debiasedHsic(hsic: number, rowNormsA: Float64Array, rowNormsC: Float64Array, totalA: number, totalC: number, n: number): number {
  let dot = 0;
  for (let i = 0; i < n; i++) dot += (rowNormsA[i] as number) * (rowNormsC[i] as number);
  return hsic - (n / (n - 2)) * dot + (totalA * totalC) / ((n - 1) * (n - 2));
}

function normalize(hsic: Float64Array, layers: number, names: readonly string[], debiased: boolean): Float64Array {
  const out = new Float64Array(layers * layers);
  for (let a = 0; a < layers; a++) {
    const self = hsic[a * layers + a] as number;
    if (!(self > 0)) {
      if (debiased && self !== 0) {
        throw new RangeError(`${names[a] ?? a}: its debiased self-similarity is ${self} (negative), so debiased CKA is undefined; use more images or the biased estimator`);
      }
      throw undefinedCka(names[a] ?? String(a));
    }
  }
  for (let a = 0; a < layers; a++) {
    for (let c = a; c < layers; c++) {
      const value = (hsic[a * layers + c] as number) / Math.sqrt((hsic[a * layers + a] as number) * (hsic[c * layers + c] as number));
      out[a * layers + c] = value;
      out[c * layers + a] = value;
    }
  }
  return out;
}

async function viaFeatures(sources: readonly FeatureSource[], names: readonly string[], n: number, options: CkaOptions, kernels: MatrixKernels | undefined): Promise<Float64Array> {
  const layers = sources.length;
  const dims = sources.map((s) => s.columns);
  const totalDim = dims.reduce((s, d) => s + d, 0);
  // Rows per block: all layers' blocks (raw, centered and transposed) in about 64 MiB.
  const blockRows = kernels ? Math.min(n, ONNX_BLOCK_ROWS) : Math.max(4, Math.min(n, Math.floor((64 * 2 ** 20) / (16 * totalDim))));
  const blocks = sources.map((_, l) => new Float64Array(blockRows * (dims[l] as number)));
  const transposed = sources.map((_, l) => new Float64Array(blockRows * (dims[l] as number)));
  const means = sources.map((_, l) => new Float64Array(dims[l] as number));
  const steps = 2 * Math.ceil(n / blockRows);
  let step = 0;
  for (let r0 = 0; r0 < n; r0 += blockRows) {
    options.signal?.throwIfAborted();
    const count = Math.min(blockRows, n - r0);
    for (let l = 0; l < layers; l++) {
      const d = dims[l] as number;
      const block = blocks[l] as Float64Array;
      const mean = means[l] as Float64Array;
      await readRowsInto(sources[l] as FeatureSource, null, r0, count, 0, d, block, names[l] as string);
      for (let r = 0; r < count; r++) for (let c = 0; c < d; c++) mean[c] = (mean[c] as number) + (block[r * d + c] as number);
    }
    options.onProgress?.(++step, steps);
  }
  for (const mean of means) for (let c = 0; c < mean.length; c++) mean[c] = (mean[c] as number) / n;
  if (kernels) return crossProductsOnnx(sources, names, n, options, kernels, { blockRows, blocks, means, step, steps });

  const cross: Float64Array[] = [];
  for (let a = 0; a < layers; a++) for (let c = a; c < layers; c++) cross.push(new Float64Array((dims[a] as number) * (dims[c] as number)));
  const rowNorms = sources.map(() => new Float64Array(n));
  for (let r0 = 0; r0 < n; r0 += blockRows) {
    options.signal?.throwIfAborted();
    const count = Math.min(blockRows, n - r0);
    for (let l = 0; l < layers; l++) {
      const d = dims[l] as number;
      const block = blocks[l] as Float64Array;
      const mean = means[l] as Float64Array;
      const norms = rowNorms[l] as Float64Array;
      await readRowsInto(sources[l] as FeatureSource, null, r0, count, 0, d, block, names[l] as string);
      centreBlock(block, count, d, mean, norms, r0);
      transpose(block, count, d, transposed[l] as Float64Array);
    }
    // Xcᵀ Yc is a sum over images: with the block transposed, images run along the contiguous axis.
    let p = 0;
    for (let a = 0; a < layers; a++) {
      for (let c = a; c < layers; c++) {
        dotRows(transposed[a] as Float64Array, dims[a] as number, transposed[c] as Float64Array, dims[c] as number, count, cross[p++] as Float64Array, true, a === c);
      }
    }
    options.onProgress?.(++step, steps);
  }

  const hsic = new Float64Array(layers * layers);
  const totals = rowNorms.map((norms) => norms.reduce((s, v) => s + v, 0));
  let p = 0;
  for (let a = 0; a < layers; a++) {
    for (let c = a; c < layers; c++) {
      const product = cross[p++] as Float64Array;
      let value = 0;
      for (let i = 0; i < product.length; i++) value += (product[i] as number) * (product[i] as number);
      if (options.debiased) {
        value = debiasedHsic(value, rowNorms[a] as Float64Array, rowNorms[c] as Float64Array, totals[a] as number, totals[c] as number, n);
      }
      hsic[a * layers + c] = value;
      hsic[c * layers + a] = value;
    }
  }
  return normalize(hsic, layers, names, options.debiased ?? false);
}

/** Subtracts the column means from `count` rows of `d` features in place; row r's squared norm goes to norms[at + r]. */
function centreBlock(block: Float64Array, count: number, d: number, mean: Float64Array, norms: Float64Array, at: number): void {
  for (let r = 0; r < count; r++) {
    let sq = 0;
    for (let c = 0; c < d; c++) {
      const v = (block[r * d + c] as number) - (mean[c] as number);
      block[r * d + c] = v;
      sq += v * v;
    }
    norms[at + r] = sq;
  }
}

/**
 * The features route on onnxruntime: for each block of rows the centered features of every
 * layer, side by side and transposed (sum D x rows, float32), go through one Gram product whose
 * upper triangle holds every Xcᵀ Yc at once; the float32 products of the blocks are summed in
 * float64.
 */
async function crossProductsOnnx(
  sources: readonly FeatureSource[],
  names: readonly string[],
  n: number,
  options: CkaOptions,
  kernels: MatrixKernels,
  state: { blockRows: number; blocks: Float64Array[]; means: Float64Array[]; step: number; steps: number },
): Promise<Float64Array> {
  const { blockRows, blocks, means, steps } = state;
  let step = state.step;
  const layers = sources.length;
  const dims = sources.map((s) => s.columns);
  const offsets = dims.map((_, l) => dims.slice(0, l).reduce((s, d) => s + d, 0));
  const total = dims.reduce((s, d) => s + d, 0);
  const stacked = new Float32Array(total * blockRows);
  const product = new Float64Array(total * total);
  const rowNorms = sources.map(() => new Float64Array(n));
  for (let r0 = 0; r0 < n; r0 += blockRows) {
    options.signal?.throwIfAborted();
    const count = Math.min(blockRows, n - r0);
    for (let l = 0; l < layers; l++) {
      const d = dims[l] as number;
      const block = blocks[l] as Float64Array;
      const mean = means[l] as Float64Array;
      const norms = rowNorms[l] as Float64Array;
      const offset = offsets[l] as number;
      await readRowsInto(sources[l] as FeatureSource, null, r0, count, 0, d, block, names[l] as string);
      centreBlock(block, count, d, mean, norms, r0);
      for (let r = 0; r < count; r++) for (let c = 0; c < d; c++) stacked[(offset + c) * count + r] = block[r * d + c] as number;
    }
    await kernels.accumulateGram(stacked.subarray(0, total * count), total, count, product);
    options.onProgress?.(++step, steps);
  }
  const totals = rowNorms.map((norms) => norms.reduce((s, v) => s + v, 0));
  const hsic = new Float64Array(layers * layers);
  for (let a = 0; a < layers; a++) {
    for (let c = a; c < layers; c++) {
      const oa = offsets[a] as number;
      const oc = offsets[c] as number;
      let value = 0;
      for (let i = oa; i < oa + (dims[a] as number); i++) {
        const row = i * total;
        if (a === c) {
          // Diagonal block: only its upper triangle is filled.
          value += (product[row + i] as number) ** 2;
          let off = 0;
          for (let j = i + 1; j < oa + (dims[a] as number); j++) off += (product[row + j] as number) ** 2;
          value += 2 * off;
        } else {
          for (let j = oc; j < oc + (dims[c] as number); j++) value += (product[row + j] as number) ** 2;
        }
      }
      if (options.debiased) {
        value = debiasedHsic(value, rowNorms[a] as Float64Array, rowNorms[c] as Float64Array, totals[a] as number, totals[c] as number, n);
      }
      hsic[a * layers + c] = value;
      hsic[c * layers + a] = value;
    }
  }
  return normalize(hsic, layers, names, options.debiased ?? false);
}

/** Kornblith's `center_gram(gram, unbiased=True)` applied to an already centered Gram (U-centering ignores the difference). */
function unbiasedCenter(gram: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) gram[i * n + i] = 0;
  const means = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) means[j] = (means[j] as number) + (gram[i * n + j] as number);
  let total = 0;
  for (let j = 0; j < n; j++) {
    means[j] = (means[j] as number) / (n - 2);
    total += means[j] as number;
  }
  const shift = total / (2 * (n - 1));
  for (let j = 0; j < n; j++) means[j] = (means[j] as number) - shift;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) gram[i * n + j] = i === j ? 0 : (gram[i * n + j] as number) - (means[i] as number) - (means[j] as number);
  }
}

async function viaGram(sources: readonly FeatureSource[], names: readonly string[], n: number, options: CkaOptions, kernels: MatrixKernels | undefined): Promise<Float64Array> {
  const layers = sources.length;
  const grams: Float64Array[] = [];
  for (let l = 0; l < layers; l++) {
    const { gram } = await gramOfRows(sources[l] as FeatureSource, null, { centering: 'columns', label: names[l], signal: options.signal, kernels });
    if (options.debiased) unbiasedCenter(gram, n);
    grams.push(gram);
    options.onProgress?.(l + 1, layers);
  }
  const hsic = new Float64Array(layers * layers);
  for (let a = 0; a < layers; a++) {
    for (let c = a; c < layers; c++) {
      const ga = grams[a] as Float64Array;
      const gc = grams[c] as Float64Array;
      let value = 0;
      for (let i = 0; i < ga.length; i++) value += (ga[i] as number) * (gc[i] as number);
      hsic[a * layers + c] = value;
      hsic[c * layers + a] = value;
    }
  }
  return normalize(hsic, layers, names, options.debiased ?? false);
}

/** The L x L matrix of linear CKA between every pair of layers (row-major, symmetric, 1 on the diagonal). */
export async function ckaMatrix(layers: readonly NamedFeatures[], options: CkaOptions = {}): Promise<Float64Array> {
  const sources = layers.map((layer) => toSource(layer.features, layer.name));
  const names = layers.map((layer) => layer.name);
  const n = sources[0]?.rows ?? 0;
  sources.forEach((source, l) => {
    if (source.rows !== n) throw new RangeError(`${names[l]} has ${source.rows} rows but ${names[0]} has ${n}; CKA needs the same images in the same order`);
  });
  const minimum = options.debiased ? 4 : 2;
  if (n < minimum) throw new RangeError(`${options.debiased ? 'debiased ' : ''}CKA needs at least ${minimum} images, got ${n}`);
  const plan = planCka(n, sources.map((s) => s.columns), options);
  const kernels = plan.kernel === 'onnxruntime' ? openMatrixKernels() : undefined;
  try {
    return plan.method === 'features' ? await viaFeatures(sources, names, n, options, kernels) : await viaGram(sources, names, n, options, kernels);
  } finally {
    await kernels?.dispose();
  }
}

/** Linear CKA between two layers' features of the same images (rows). */
export async function linearCka(x: FeatureInput, y: FeatureInput, options: CkaOptions = {}): Promise<number> {
  const matrix = await ckaMatrix(
    [
      { name: 'a', features: x },
      { name: 'b', features: y },
    ],
    options,
  );
  return matrix[1] as number;
}
