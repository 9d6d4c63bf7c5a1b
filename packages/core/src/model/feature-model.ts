/**
 * FeatureModel: a VGG16 ONNX model cut down to the requested layers, ready to turn
 * preprocessed image batches into activations. One job, an options object, a dispose().
 */
import { INPUT_SIZE, LAYERS, type LayerInfo } from '../layers.js';
import { cutToLayers } from './graph-cut.js';
import { parseOnnx, readModelBytes } from './onnx-file.js';
import { RuntimeSession, type ExecutionProvider } from './runtime.js';
import { findVgg16Layers } from './vgg16-graph.js';

export interface FeatureModelOptions {
  /** Catalog layers to compute (at least one). Duplicates are ignored; order does not matter. */
  readonly layers: readonly LayerInfo[];
  /** Default 'cpu'. */
  readonly executionProvider?: ExecutionProvider;
  /** Threads per operator (onnxruntime intra-op threads). Default: one per core. */
  readonly threads?: number;
}

const PIXELS = 3 * INPUT_SIZE * INPUT_SIZE;

export class FeatureModel {
  /** The layers this model computes, in network order. */
  readonly layers: readonly LayerInfo[];
  /** Lowercase hex SHA-256 of the model file (or bytes) it was loaded from. */
  readonly sha256: string;
  readonly executionProvider: ExecutionProvider;
  readonly #session: RuntimeSession;
  readonly #inputName: string;
  readonly #outputNames: ReadonlyMap<string, string>;

  private constructor(
    session: RuntimeSession,
    layers: readonly LayerInfo[],
    sha256: string,
    inputName: string,
    outputNames: ReadonlyMap<string, string>,
  ) {
    this.#session = session;
    this.layers = layers;
    this.sha256 = sha256;
    this.executionProvider = session.executionProvider;
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
    const session = await RuntimeSession.create(prepared.bytes, {
      executionProvider: options.executionProvider ?? 'cpu',
      ...(options.threads !== undefined ? { intraOpThreads: options.threads } : {}),
    });
    return new FeatureModel(session, layers, prepared.sha256, prepared.inputName, prepared.outputNames);
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
    const results = await this.#session.run(
      { [this.#inputName]: { data: input, dims: [batchSize, 3, INPUT_SIZE, INPUT_SIZE] } },
      [...this.#outputNames.values()],
    );
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

  /** Frees the onnxruntime session. */
  async dispose(): Promise<void> {
    await this.#session.dispose();
  }
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
