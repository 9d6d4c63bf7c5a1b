/**
 * Finds the 18 catalog layers in an ONNX graph by topology, never by name: tensor names
 * differ between torchvision exports ("/features/features.0/Conv_output_0", "input.4") and
 * the ONNX Model Zoo ("vgg0_conv0_fwd"), but the chain from the image input is always
 * Conv -> Relu (x2 or x3) -> MaxPool, five times. conv_k is the k-th Conv's output (before
 * its Relu), pool_k the k-th MaxPool's. Identity and Dropout nodes on the chain are stepped
 * over; anything after the fifth MaxPool (avgpool, Flatten/Reshape, Gemm, Softmax) is never
 * looked at.
 */
import { INPUT_SIZE, LAYERS, type LayerInfo } from '../layers.js';
import { int64, ONNX_FLOAT, type OnnxFile, type onnx } from './onnx-file.js';

export interface LocatedLayer {
  readonly layer: LayerInfo;
  /** Name of the tensor that holds this layer's activations. */
  readonly tensor: string;
  /** Name (possibly empty) and index of the node that produces it. */
  readonly nodeName: string;
  readonly nodeIndex: number;
}

export interface Vgg16Layout {
  /** The image input, [N, 3, 224, 224]. */
  readonly inputName: string;
  /** All 18 catalog layers, by catalog name, in network order. */
  readonly layers: ReadonlyMap<string, LocatedLayer>;
}

/** Thrown when a model is not a VGG16 (features) network. */
export class NotVgg16Error extends Error {
  override readonly name = 'NotVgg16Error';
}

const EXPECTED =
  'expected the VGG16 feature chain from the image input: 13 Conv 3x3 (pad 1) each followed by Relu, ' +
  'with a MaxPool 2x2 stride 2 after conv2, conv4, conv7, conv10 and conv13 ' +
  '(channels 64,64 | 128,128 | 256,256,256 | 512,512,512 | 512,512,512)';

function attribute(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((attr) => attr.name === name);
}

function intsAttribute(node: onnx.INodeProto, name: string): number[] | undefined {
  const attr = attribute(node, name);
  return attr?.ints ? attr.ints.map((value) => int64(value)) : undefined;
}

function intAttribute(node: onnx.INodeProto, name: string): number | undefined {
  const attr = attribute(node, name);
  return attr ? int64(attr.i) : undefined;
}

function stringAttribute(node: onnx.INodeProto, name: string): string | undefined {
  const attr = attribute(node, name);
  return attr?.s ? new TextDecoder().decode(attr.s) : undefined;
}

function same(actual: readonly number[] | undefined, expected: readonly number[]): boolean {
  return actual !== undefined && actual.length === expected.length && actual.every((v, i) => v === expected[i]);
}

function show(values: readonly number[] | undefined): string {
  return values === undefined ? 'absent' : `[${values.join(', ')}]`;
}

function describeNode(node: onnx.INodeProto): string {
  return node.name ? `${node.opType} node "${node.name}"` : `${node.opType} node producing "${node.output?.[0] ?? '?'}"`;
}

function dimsOf(valueInfo: onnx.IValueInfoProto): (number | string)[] | undefined {
  const dims = valueInfo.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((dim) => (dim.dimParam ? dim.dimParam : dim.dimValue != null ? int64(dim.dimValue) : '?'));
}

/**
 * Locates conv1..conv13 and pool1..pool5 in `file`. Throws NotVgg16Error naming what was
 * found when the graph does not have VGG16's feature topology. `source` names the model in
 * messages.
 */
export function findVgg16Layers(file: OnnxFile, source = 'model'): Vgg16Layout {
  const { graph, initializers } = file;
  const fail: (detail: string) => never = (detail) => {
    throw new NotVgg16Error(`${source} is not a VGG16 model: ${detail}; ${EXPECTED}`);
  };

  // Older IR versions list initializers as graph inputs too; those are not image inputs.
  const inputs = (graph.input ?? []).filter((input) => !initializers.has(input.name ?? ''));
  if (inputs.length !== 1) {
    fail(`found ${inputs.length} non-constant graph inputs (${inputs.map((i) => `"${i.name}"`).join(', ')}), expected exactly 1 image input`);
  }
  const input = inputs[0] as onnx.IValueInfoProto;
  const inputName = input.name ?? '';
  const elemType = input.type?.tensorType?.elemType;
  if (elemType != null && elemType !== ONNX_FLOAT) {
    fail(`input "${inputName}" has element type ${elemType}, expected ${ONNX_FLOAT} (float32)`);
  }
  const inputDims = dimsOf(input);
  if (inputDims) {
    const [, channels, height, width] = inputDims;
    const spatialOk = (d: number | string | undefined): boolean => typeof d === 'string' || d === INPUT_SIZE;
    if (inputDims.length !== 4 || channels !== 3 || !spatialOk(height) || !spatialOk(width)) {
      fail(`input "${inputName}" has shape [${inputDims.join(', ')}], expected [N, 3, ${INPUT_SIZE}, ${INPUT_SIZE}]`);
    }
  }

  const nodes = graph.node ?? [];
  const consumers = new Map<string, number[]>();
  const producers = new Map<string, number>();
  nodes.forEach((node, index) => {
    for (const name of node.input ?? []) {
      if (name === '') continue;
      const list = consumers.get(name);
      if (list) list.push(index);
      else consumers.set(name, [index]);
    }
    for (const name of node.output ?? []) producers.set(name, index);
  });

  /** Dims of a constant tensor: an initializer, possibly behind Identity or a Constant node. */
  const constantDims = (name: string, depth = 0): readonly number[] | undefined => {
    const init = initializers.get(name);
    if (init) return init.dims;
    const producer = producers.get(name);
    if (producer === undefined || depth > 8) return undefined;
    const node = nodes[producer];
    if (node?.opType === 'Identity' && node.input?.[0]) return constantDims(node.input[0], depth + 1);
    if (node?.opType === 'Constant') {
      const value = attribute(node, 'value')?.t;
      return value?.dims ? value.dims.map((d) => int64(d)) : undefined;
    }
    return undefined;
  };

  const located = new Map<string, LocatedLayer>();
  const summary = (): string => {
    const convs = [...located.values()].filter((l) => l.layer.kind === 'conv').length;
    const pools = located.size - convs;
    return `after ${convs} Conv and ${pools} MaxPool${located.size ? ` (last: ${[...located.keys()].at(-1)})` : ''}`;
  };

  let tensor = inputName;
  let channels = 3;
  let awaitingRelu: string | undefined;
  let position = 0; // index into LAYERS of the next layer to find
  while (position < LAYERS.length || awaitingRelu !== undefined) {
    const next = consumers.get(tensor) ?? [];
    if (next.length === 0) {
      fail(`the chain ends at tensor "${tensor}" ${summary()}`);
    }
    if (next.length > 1) {
      const names = next.map((i) => describeNode(nodes[i] ?? {})).join(', ');
      fail(`tensor "${tensor}" ${summary()} feeds ${next.length} nodes (${names}), expected a plain chain`);
    }
    const nodeIndex = next[0] as number;
    const node = nodes[nodeIndex] as onnx.INodeProto;
    const output = node.output?.[0] ?? '';
    const expected = LAYERS[position];
    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
        break;
      case 'Relu':
        if (awaitingRelu === undefined) {
          fail(`found ${describeNode(node)} ${summary()} where ${expected ? `${expected.name} was expected` : 'nothing more was expected'}`);
        }
        awaitingRelu = undefined;
        break;
      case 'Conv': {
        if (awaitingRelu !== undefined) fail(`found ${describeNode(node)} right after ${awaitingRelu}, expected its Relu`);
        if (!expected || expected.kind !== 'conv') {
          fail(`found ${describeNode(node)} ${summary()} where ${expected ? expected.name : 'nothing more'} was expected`);
        }
        const layer = expected as LayerInfo;
        const outChannels = layer.shape[0];
        const weight = node.input?.[1] ?? '';
        const dims = constantDims(weight);
        if (!dims) fail(`weight "${weight}" of ${describeNode(node)} (${layer.name}) is not a constant initializer`);
        if (!same(dims, [outChannels, channels, 3, 3])) {
          fail(`${layer.name} (${describeNode(node)}) has weight shape ${show(dims)}, expected [${outChannels}, ${channels}, 3, 3]`);
        }
        const group = intAttribute(node, 'group') ?? 1;
        const strides = intsAttribute(node, 'strides') ?? [1, 1];
        const dilations = intsAttribute(node, 'dilations') ?? [1, 1];
        const autoPad = stringAttribute(node, 'auto_pad') ?? 'NOTSET';
        const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
        const padded = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || same(pads, [1, 1, 1, 1]);
        if (group !== 1 || !same(strides, [1, 1]) || !same(dilations, [1, 1]) || !padded) {
          fail(
            `${layer.name} (${describeNode(node)}) has group ${group}, strides ${show(strides)}, dilations ${show(dilations)}, ` +
              `pads ${show(pads)}, auto_pad ${autoPad}; expected group 1, strides [1, 1], dilations [1, 1], pads [1, 1, 1, 1]`,
          );
        }
        located.set(layer.name, { layer, tensor: output, nodeName: node.name ?? '', nodeIndex });
        channels = outChannels;
        awaitingRelu = layer.name;
        position += 1;
        break;
      }
      case 'MaxPool': {
        if (awaitingRelu !== undefined) fail(`found ${describeNode(node)} right after ${awaitingRelu}, expected its Relu`);
        if (!expected || expected.kind !== 'pool') {
          fail(`found ${describeNode(node)} ${summary()} where ${expected ? expected.name : 'nothing more'} was expected`);
        }
        const layer = expected as LayerInfo;
        const kernel = intsAttribute(node, 'kernel_shape');
        const strides = intsAttribute(node, 'strides') ?? [1, 1];
        const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
        if (!same(kernel, [2, 2]) || !same(strides, [2, 2]) || !same(pads, [0, 0, 0, 0])) {
          fail(
            `${layer.name} (${describeNode(node)}) has kernel_shape ${show(kernel)}, strides ${show(strides)}, pads ${show(pads)}; ` +
              'expected kernel_shape [2, 2], strides [2, 2], pads [0, 0, 0, 0]',
          );
        }
        located.set(layer.name, { layer, tensor: output, nodeName: node.name ?? '', nodeIndex });
        position += 1;
        break;
      }
      default:
        fail(`found ${describeNode(node)} on the chain ${summary()}, expected Conv, Relu or MaxPool`);
    }
    tensor = output;
  }
  return { inputName, layers: located };
}
