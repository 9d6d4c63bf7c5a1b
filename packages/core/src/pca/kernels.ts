/**
 * Float32 matrix products on onnxruntime's CPU kernels (MLAS), through one-node ONNX graphs
 * built here. Plain JavaScript multiplies at ~1-2 GFLOP/s on this kind of machine; MLAS runs
 * the same products at 200-650 GFLOP/s on two AVX-512 cores, and a Gram matrix of 5,000
 * images of conv1 is 1.6e14 flops, so every large product in the PCA goes through here.
 *
 * onnxruntime is loaded lazily (dynamic import of ../model/runtime.js, the one module that
 * talks to it), so code that only reads a saved basis or projects in JavaScript never loads
 * the native library. Inputs are passed to onnxruntime without copying (typed-array views);
 * outputs come back as new Float32Arrays.
 */
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { ONNX_FLOAT, serializeOnnx } from '../model/onnx-file.js';
import type { RuntimeSession } from '../model/runtime.js';

const { AttributeProto } = onnxProto.onnx;

export interface KernelOptions {
  /** onnxruntime intra-op threads. Default: onnxruntime's choice (one per core). */
  readonly threads?: number;
}

function valueInfo(name: string, dims: readonly (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function intAttribute(name: string, value: number): onnx.IAttributeProto {
  return { name, type: AttributeProto.AttributeType.INT, i: value };
}

function floatAttribute(name: string, value: number): onnx.IAttributeProto {
  return { name, type: AttributeProto.AttributeType.FLOAT, f: value };
}

/** ONNX TensorProto.DataType. */
const ONNX_INT64 = 7;

function graphBytes(name: string, nodes: onnx.INodeProto[], inputs: onnx.IValueInfoProto[], outputs: onnx.IValueInfoProto[]): Uint8Array {
  return serializeOnnx(
    {
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      producerName: 'strata-pca',
      graph: { name, node: nodes, input: inputs, output: outputs },
    },
    [],
  );
}

/**
 * Upper panels of A A^T for A split by rows into `panels` parts fed as separate inputs:
 * outputs G_i_j = A_i A_j^T for i <= j. The Gram matrix is symmetric, so with 4 panels
 * only 10 of 16 panel products are computed (1.6x fewer flops than one full Gemm).
 */
function gramPanelsGraph(panels: number): Uint8Array {
  const nodes: onnx.INodeProto[] = [];
  const inputs: onnx.IValueInfoProto[] = [];
  const outputs: onnx.IValueInfoProto[] = [];
  for (let i = 0; i < panels; i += 1) inputs.push(valueInfo(`A${i}`, [`h${i}`, 'w']));
  for (let i = 0; i < panels; i += 1) {
    for (let j = i; j < panels; j += 1) {
      nodes.push({ opType: 'Gemm', name: `G${i}_${j}`, input: [`A${i}`, `A${j}`], output: [`G${i}_${j}`], attribute: [intAttribute('transB', 1)] });
      outputs.push(valueInfo(`G${i}_${j}`, [`h${i}`, `h${j}`]));
    }
  }
  return graphBytes('gram_panels', nodes, inputs, outputs);
}

/** C = op(A) B with op(A) = A or A^T. */
function productGraph(transposeA: boolean): Uint8Array {
  return graphBytes(
    transposeA ? 'matmul_ta' : 'matmul',
    [{ opType: 'Gemm', name: 'C', input: ['A', 'B'], output: ['C'], attribute: [intAttribute('transA', transposeA ? 1 : 0)] }],
    [valueInfo('A', transposeA ? ['k', 'm'] : ['m', 'k']), valueInfo('B', ['k', 'n'])],
    [valueInfo('C', ['m', 'n'])],
  );
}

/** Y = (X - mean) V: projection of rows onto a block of the basis. */
function centredProductGraph(): Uint8Array {
  return graphBytes(
    'centred_matmul',
    [
      { opType: 'Sub', name: 'Xc', input: ['X', 'mean'], output: ['Xc'] },
      { opType: 'MatMul', name: 'Y', input: ['Xc', 'V'], output: ['Y'] },
    ],
    [valueInfo('X', ['count', 'w']), valueInfo('mean', [1, 'w']), valueInfo('V', ['w', 'k'])],
    [valueInfo('Y', ['count', 'k'])],
  );
}

/**
 * For each query row q of Q: the `count` reference rows r of R with the smallest
 * |r|^2 - 2 q.r (the squared distance |q - r|^2 less the row's constant |q|^2), ascending,
 * with those scores. The norms come in as a 1 x n row N. Indices leave as float32 (exact below
 * 2^24 rows), since sessions here exchange float32 tensors only.
 */
function smallestScoresGraph(count: number): Uint8Array {
  return graphBytes(
    'smallest_scores',
    [
      {
        opType: 'Constant',
        name: 'K',
        output: ['K'],
        attribute: [{ name: 'value', type: AttributeProto.AttributeType.TENSOR, t: { dims: [1], dataType: ONNX_INT64, int64Data: [count] } }],
      },
      {
        opType: 'Gemm',
        name: 'S',
        input: ['Q', 'R', 'N'],
        output: ['S'],
        attribute: [intAttribute('transB', 1), floatAttribute('alpha', -2), floatAttribute('beta', 1)],
      },
      { opType: 'TopK', name: 'top', input: ['S', 'K'], output: ['scores', 'I'], attribute: [intAttribute('axis', 1), intAttribute('largest', 0), intAttribute('sorted', 1)] },
      { opType: 'Cast', name: 'indices', input: ['I'], output: ['indices'], attribute: [intAttribute('to', ONNX_FLOAT)] },
    ],
    [valueInfo('Q', ['m', 'w']), valueInfo('R', ['n', 'w']), valueInfo('N', [1, 'n'])],
    [valueInfo('scores', ['m', count]), valueInfo('indices', ['m', count])],
  );
}

/** Number of row panels for a Gram product of n rows: more panels skip more of the symmetric half, but each must stay large enough for MLAS to run at full speed. */
export function gramPanelCount(n: number): number {
  if (n >= 2048) return 4;
  if (n >= 512) return 2;
  return 1;
}

export class MatrixKernels {
  readonly #options: KernelOptions;
  readonly #sessions = new Map<string, Promise<RuntimeSession>>();
  #disposed = false;

  constructor(options: KernelOptions = {}) {
    this.#options = options;
  }

  #session(key: string, build: () => Uint8Array): Promise<RuntimeSession> {
    if (this.#disposed) throw new Error('MatrixKernels: used after dispose()');
    let session = this.#sessions.get(key);
    if (!session) {
      session = import('../model/runtime.js').then(({ RuntimeSession: Runtime }) =>
        Runtime.create(build(), this.#options.threads === undefined ? {} : { intraOpThreads: this.#options.threads }),
      );
      this.#sessions.set(key, session);
    }
    return session;
  }

  async #runSingle(key: string, build: () => Uint8Array, feeds: Record<string, { data: Float32Array; dims: readonly number[] }>, output: string): Promise<Float32Array> {
    const session = await this.#session(key, build);
    const result = (await session.run(feeds, [output])).get(output);
    if (!result) throw new Error(`MatrixKernels: ${key} returned no ${output}`);
    return result.data;
  }

  /** C = A B for row-major A (m x k) and B (k x n). */
  matmul(a: Float32Array, m: number, k: number, b: Float32Array, n: number): Promise<Float32Array> {
    checkSize('matmul A', a, m * k);
    checkSize('matmul B', b, k * n);
    return this.#runSingle('matmul', () => productGraph(false), { A: { data: a, dims: [m, k] }, B: { data: b, dims: [k, n] } }, 'C');
  }

  /** C = A^T B for row-major A (k x m) and B (k x n). */
  matmulTransposeA(a: Float32Array, k: number, m: number, b: Float32Array, n: number): Promise<Float32Array> {
    checkSize('matmulTransposeA A', a, k * m);
    checkSize('matmulTransposeA B', b, k * n);
    return this.#runSingle('matmul_ta', () => productGraph(true), { A: { data: a, dims: [k, m] }, B: { data: b, dims: [k, n] } }, 'C');
  }

  /** (X - mean) V for row-major X (count x w), mean (w) and V (w x k). */
  centredMatmul(x: Float32Array, count: number, w: number, mean: Float32Array, v: Float32Array, k: number): Promise<Float32Array> {
    checkSize('centredMatmul X', x, count * w);
    checkSize('centredMatmul mean', mean, w);
    checkSize('centredMatmul V', v, w * k);
    return this.#runSingle(
      'centred_matmul',
      centredProductGraph,
      { X: { data: x, dims: [count, w] }, mean: { data: mean, dims: [1, w] }, V: { data: v, dims: [w, k] } },
      'Y',
    );
  }

  /**
   * For each row q of Q (m x w), the `count` rows r of R (n x w) with the smallest
   * norms[r] - 2 q.r, ascending (ties in onnxruntime's order). With norms[r] = |r|^2 this is
   * the `count` nearest in Euclidean distance, up to float32 rounding of the products.
   */
  async smallestScores(
    q: Float32Array,
    m: number,
    r: Float32Array,
    n: number,
    w: number,
    norms: Float32Array,
    count: number,
  ): Promise<{ scores: Float32Array; indices: Float32Array }> {
    checkSize('smallestScores Q', q, m * w);
    checkSize('smallestScores R', r, n * w);
    checkSize('smallestScores norms', norms, n);
    if (!Number.isInteger(count) || count < 1 || count > n) throw new RangeError(`smallestScores: count must be in [1, ${n}], got ${count}`);
    if (n >= 2 ** 24) throw new RangeError(`smallestScores: ${n} rows, at most 2^24 - 1 (indices travel as float32)`);
    const session = await this.#session(`smallest${count}`, () => smallestScoresGraph(count));
    const results = await session.run({ Q: { data: q, dims: [m, w] }, R: { data: r, dims: [n, w] }, N: { data: norms, dims: [1, n] } });
    const scores = results.get('scores');
    const indices = results.get('indices');
    if (!scores || !indices) throw new Error('MatrixKernels: smallestScores returned no scores or indices');
    return { scores: scores.data, indices: indices.data };
  }

  /**
   * Adds A A^T (A row-major n x w) into the float64 n x n matrix `gram` (upper triangle and
   * diagonal only; the caller mirrors it at the end). Each block's float32 product is
   * summed into float64, so rounding does not grow with the number of blocks.
   */
  async accumulateGram(a: Float32Array, n: number, w: number, gram: Float64Array): Promise<void> {
    checkSize('accumulateGram A', a, n * w);
    checkSize('accumulateGram gram', gram, n * n);
    const panels = Math.min(gramPanelCount(n), n);
    const session = await this.#session(`gram${panels}`, () => gramPanelsGraph(panels));
    const bounds: number[] = [];
    for (let p = 0; p <= panels; p += 1) bounds.push(Math.round((p * n) / panels));
    const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (let p = 0; p < panels; p += 1) {
      const r0 = bounds[p] as number;
      const r1 = bounds[p + 1] as number;
      feeds[`A${p}`] = { data: a.subarray(r0 * w, r1 * w), dims: [r1 - r0, w] };
    }
    const results = await session.run(feeds);
    for (let i = 0; i < panels; i += 1) {
      for (let j = i; j < panels; j += 1) {
        const block = results.get(`G${i}_${j}`);
        if (!block) throw new Error(`MatrixKernels: gram panel G${i}_${j} missing`);
        const r0 = bounds[i] as number;
        const r1 = bounds[i + 1] as number;
        const c0 = bounds[j] as number;
        const c1 = bounds[j + 1] as number;
        const width = c1 - c0;
        const data = block.data;
        for (let r = r0; r < r1; r += 1) {
          // Diagonal panels: only the upper triangle (c >= r) is kept.
          const start = i === j ? r : c0;
          const src = (r - r0) * width - c0;
          const dst = r * n;
          for (let c = start; c < c1; c += 1) gram[dst + c] = (gram[dst + c] as number) + (data[src + c] as number);
        }
      }
    }
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const session of sessions) await (await session).dispose();
  }
}

function checkSize(what: string, data: ArrayLike<number>, expected: number): void {
  if (data.length !== expected) throw new RangeError(`${what}: ${data.length} values, expected ${expected}`);
}
