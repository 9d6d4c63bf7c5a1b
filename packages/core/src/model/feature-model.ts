/**
 * FeatureModel: a VGG16 ONNX model cut down to the requested layers, ready to turn
 * preprocessed image batches into activations. One job, an options object, a dispose().
 */
import { availableParallelism } from 'node:os';

import { INPUT_SIZE, LAYERS, type LayerInfo } from '../layers.js';
import { cutToLayers } from './graph-cut.js';
import { parseOnnx, readModelBytes } from './onnx-file.js';
import { RuntimeSession, type ExecutionProvider } from './runtime.js';
import { runtimeThreadAvailable, ThreadedRuntimeSession } from './runtime-thread.js';
import { findVgg16Layers } from './vgg16-graph.js';

export interface FeatureModelOptions {
  /** Catalog layers to compute (at least one). Duplicates are ignored; order does not matter. */
  readonly layers: readonly LayerInfo[];
  /** Default 'cpu'. */
  readonly executionProvider?: ExecutionProvider;
  /**
   * Inference threads in all (onnxruntime intra-op threads, shared out among the sessions).
   * Default: one per core.
   */
  readonly threads?: number;
  /**
   * Run the model on a worker thread of its own (default: yes, when @strata/core is built),
   * so that the calling thread keeps decoding, writing or answering requests meanwhile.
   */
  readonly onWorkerThread?: boolean;
  /**
   * Sessions that run batches side by side, each on its own worker thread with
   * threads / sessions threads (at least one). On CPUs, one single-threaded
   * session per core keeps more of the machine busy than one session with every core when
   * the calling thread also has work (decoding, writing): a multi-threaded operator waits for
   * its slowest thread, a single-threaded one waits for nobody. Each session holds its own
   * copy of the weights (58 MB up to pool5).
   *
   * Default 'auto': on CPUs, one per thread (at most 4) when the deepest layer is in the first
   * block (conv1, conv2, pool1), else 1. Measured here on 2 cores: extraction to pool1 went
   * from about 60 to 70 images/s with two sessions; at pool2 it made no difference, and from
   * pool3 on two sessions were 10-15 % slower (their activations compete for the caches).
   */
  readonly sessions?: number | 'auto';
}

type Session = RuntimeSession | ThreadedRuntimeSession;

const PIXELS = 3 * INPUT_SIZE * INPUT_SIZE;

export class FeatureModel {
  /** The layers this model computes, in network order. */
  readonly layers: readonly LayerInfo[];
  /** Lowercase hex SHA-256 of the model file (or bytes) it was loaded from. */
  readonly sha256: string;
  readonly executionProvider: ExecutionProvider;
  readonly #sessions: readonly Session[];
  readonly #inFlight: number[];
  readonly #inputName: string;
  readonly #outputNames: ReadonlyMap<string, string>;

  private constructor(
    sessions: readonly Session[],
    layers: readonly LayerInfo[],
    sha256: string,
    inputName: string,
    outputNames: ReadonlyMap<string, string>,
  ) {
    this.#sessions = sessions;
    this.#inFlight = sessions.map(() => 0);
    this.layers = layers;
    this.sha256 = sha256;
    this.executionProvider = (sessions[0] as Session).executionProvider;
    this.#inputName = inputName;
    this.#outputNames = outputNames;
  }

  /**
   * Loads a VGG16 ONNX file (a torchvision export of `vgg16().features` or of the whole
   * `vgg16()`, or the ONNX Model Zoo's vgg16-7), finds the layers by topology, cuts the graph
   * after the deepest requested one and starts an onnxruntime session.
   */
  static async load(model: string | Uint8Array, options: FeatureModelOptions): Promise<FeatureModel> {
    const layers = normalizeLayers(options.layers);
    // Scoped so that the file's bytes (up to ~550 MB) are garbage once the cut model exists.
    const prepared = await (async () => {
      const { bytes, sha256, source } = await readModelBytes(model);
      const file = parseOnnx(bytes, source);
      const layout = findVgg16Layers(file, source);
      return { sha256, ...cutToLayers(file, layout, layers) };
    })();
    const onWorkerThread = options.onWorkerThread ?? runtimeThreadAvailable();
    const budget = options.threads ?? availableParallelism();
    const count = onWorkerThread ? resolveSessions(options.sessions ?? 'auto', layers, options.executionProvider ?? 'cpu', budget) : 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`sessions must be a positive integer; got ${String(options.sessions)}`);
    const threads = count > 1 ? Math.max(1, Math.floor(budget / count)) : options.threads;
    const sessionOptions = {
      executionProvider: options.executionProvider ?? 'cpu',
      ...(threads !== undefined ? { intraOpThreads: threads } : {}),
    } as const;
    const sessions: Session[] = [];
    try {
      for (let i = 0; i < count; i++) {
        // A threaded session takes its bytes over; all but the last get a copy.
        const bytes = i < count - 1 ? prepared.bytes.slice() : prepared.bytes;
        sessions.push(onWorkerThread ? await ThreadedRuntimeSession.create(bytes, sessionOptions) : await RuntimeSession.create(bytes, sessionOptions));
      }
    } catch (error) {
      await Promise.all(sessions.map((session) => session.dispose()));
      throw error;
    }
    return new FeatureModel(sessions, layers, prepared.sha256, prepared.inputName, prepared.outputNames);
  }

  /** Batches that can be computed at the same time (the number of sessions). */
  get parallelism(): number {
    return this.#sessions.length;
  }

  /**
   * Runs one batch. `input` is float32 NCHW, batchSize x 3 x 224 x 224 (already
   * preprocessed). Returns, for each layer, batchSize x layer.dimension values, each image's
   * activations in C, H, W order.
   */
  async run(input: Float32Array, batchSize: number): Promise<Map<string, Float32Array>> {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer; got ${batchSize}`);
    }
    if (!(input instanceof Float32Array) || input.length !== batchSize * PIXELS) {
      const actual = input instanceof Float32Array ? `${input.length} floats` : typeof input;
      throw new RangeError(
        `input must be a Float32Array of batchSize x 3 x ${INPUT_SIZE} x ${INPUT_SIZE} = ${batchSize * PIXELS} floats; got ${actual}`,
      );
    }
    // The least busy session takes the batch.
    const chosen = this.#inFlight.indexOf(Math.min(...this.#inFlight));
    this.#inFlight[chosen] = (this.#inFlight[chosen] ?? 0) + 1;
    const results = await (this.#sessions[chosen] as Session)
      .run({ [this.#inputName]: { data: input, dims: [batchSize, 3, INPUT_SIZE, INPUT_SIZE] } }, [...this.#outputNames.values()])
      .finally(() => {
        this.#inFlight[chosen] = (this.#inFlight[chosen] ?? 1) - 1;
      });
    const out = new Map<string, Float32Array>();
    for (const layer of this.layers) {
      const name = this.#outputNames.get(layer.name) ?? '';
      const tensor = results.get(name);
      const expected = [batchSize, ...layer.shape];
      if (!tensor || tensor.dims.join(',') !== expected.join(',')) {
        throw new Error(
          `Layer ${layer.name} (tensor "${name}") came back with shape [${tensor?.dims.join(', ') ?? 'missing'}]; expected [${expected.join(', ')}]`,
        );
      }
      out.set(layer.name, tensor.data);
    }
    return out;
  }

  /** Frees the onnxruntime sessions. */
  async dispose(): Promise<void> {
    await Promise.all(this.#sessions.map((session) => session.dispose()));
  }
}

function resolveSessions(sessions: number | 'auto', layers: readonly LayerInfo[], provider: ExecutionProvider, threads: number): number {
  if (sessions !== 'auto') return sessions;
  const deepest = layers.at(-1);
  const firstBlock = deepest !== undefined && ['conv1', 'conv2', 'pool1'].includes(deepest.name);
  return provider === 'cpu' && firstBlock ? Math.max(1, Math.min(4, threads)) : 1;
}

function normalizeLayers(layers: readonly LayerInfo[]): LayerInfo[] {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new RangeError(`options.layers must name at least one layer; expected some of ${LAYERS.map((l) => l.name).join(', ')}`);
  }
  const names = new Set(layers.map((layer) => layer.name));
  const known = LAYERS.filter((layer) => names.has(layer.name));
  if (known.length !== names.size) {
    const unknown = [...names].filter((name) => !LAYERS.some((layer) => layer.name === name));
    throw new RangeError(`Unknown layers ${unknown.join(', ')}; expected some of ${LAYERS.map((l) => l.name).join(', ')}`);
  }
  return known;
}
