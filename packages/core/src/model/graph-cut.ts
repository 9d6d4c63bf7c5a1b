/**
 * Graph surgery: turns a VGG16 file into a model whose outputs are exactly the requested
 * layers. Everything the requested tensors do not depend on is removed (nodes and the
 * initializers only they used), so asking for pool1 costs two convolutions, not thirteen,
 * and the 490 MB classifier of a full model never reaches onnxruntime. The batch dimension
 * becomes symbolic ("N"), because the ONNX Model Zoo's VGG16 fixes it to 1.
 */
import onnxProto from 'onnx-proto';
import { INPUT_SIZE, type LayerInfo } from '../layers.js';
import { int64, ONNX_FLOAT, serializeOnnx, type OnnxFile, type onnx } from './onnx-file.js';
import type { Vgg16Layout } from './vgg16-graph.js';

const { ModelProto, GraphProto, ValueInfoProto } = onnxProto.onnx;

/** Name of the symbolic batch dimension of the cut model's input and outputs. */
export const BATCH_DIM = 'N';

/** IR version 4 is the first in which initializers need not be graph inputs. */
const MIN_IR_VERSION = 4;

function tensorInfo(name: string, dims: readonly (number | string)[]): onnx.ValueInfoProto {
  return ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ONNX_FLOAT,
        shape: { dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })) },
      },
    },
  });
}

export interface CutResult {
  /** The encoded model, ready for onnxruntime. */
  readonly bytes: Uint8Array;
  /** Graph output name of each requested layer, by catalog name. */
  readonly outputNames: ReadonlyMap<string, string>;
  readonly inputName: string;
}

/**
 * Builds the encoded model computing `layers` (at least one) from `file`, laid out by
 * `layout` (see findVgg16Layers). Outputs are in network order; each is float
 * [N, C, H, W]. `file` is not modified.
 */
export function cutToLayers(file: OnnxFile, layout: Vgg16Layout, layers: readonly LayerInfo[]): CutResult {
  if (layers.length === 0) throw new RangeError('cutToLayers: no layers requested; expected at least one');
  const outputNames = new Map<string, string>();
  const outputs: onnx.ValueInfoProto[] = [];
  const wanted = [...layers].sort((a, b) => a.featuresIndex - b.featuresIndex);
  for (const layer of wanted) {
    if (outputNames.has(layer.name)) continue;
    const located = layout.layers.get(layer.name);
    if (!located) {
      throw new RangeError(`Layer "${layer.name}" was not located in the model; expected one of ${[...layout.layers.keys()].join(', ')}`);
    }
    outputNames.set(layer.name, located.tensor);
    outputs.push(tensorInfo(located.tensor, [BATCH_DIM, ...layer.shape]));
  }

  // Walk backwards from the outputs, keeping only the nodes they depend on. ONNX nodes are
  // stored in topological order, so one reverse pass suffices.
  const nodes = file.graph.node ?? [];
  const needed = new Set(outputNames.values());
  const keep: boolean[] = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i -= 1) {
    const node = nodes[i] as onnx.INodeProto;
    if (!(node.output ?? []).some((name) => needed.has(name))) continue;
    keep[i] = true;
    for (const name of node.input ?? []) if (name !== '') needed.add(name);
  }
  const keptNodes = nodes.filter((_, i) => keep[i]);

  const keptInitializers: Uint8Array[] = [];
  for (const [name, init] of file.initializers) {
    if (!needed.has(name)) continue;
    if (init.external) {
      throw new TypeError(
        `Initializer "${name}" stores its data in an external file, which is not supported; ` +
          'save the model with its weights inside (onnx.save(model, path, save_as_external_data=False))',
      );
    }
    keptInitializers.push(init.encoded);
  }

  const original = (file.graph.input ?? []).find((input) => input.name === layout.inputName);
  const input = tensorInfo(layout.inputName, [BATCH_DIM, 3, INPUT_SIZE, INPUT_SIZE]);
  if (original?.docString) input.docString = original.docString;

  // Initializers that old IR versions also list as inputs are dropped from the inputs, so
  // onnxruntime treats them as constants (and can fold and fuse them); that needs IR >= 4.
  const graph = GraphProto.create({
    name: file.graph.name || 'vgg16',
    node: keptNodes,
    input: [input],
    output: outputs,
    // value_info is dropped on purpose: its shapes describe the original graph (batch 1).
    valueInfo: [],
  });
  const irVersion = Math.max(int64(file.model.irVersion), MIN_IR_VERSION);
  const model = ModelProto.create({
    irVersion,
    opsetImport: file.model.opsetImport,
    producerName: file.model.producerName,
    producerVersion: file.model.producerVersion,
    domain: file.model.domain,
    modelVersion: file.model.modelVersion,
    docString: file.model.docString,
    metadataProps: file.model.metadataProps,
    graph,
  });
  return { bytes: serializeOnnx(model, keptInitializers), outputNames, inputName: layout.inputName };
}
