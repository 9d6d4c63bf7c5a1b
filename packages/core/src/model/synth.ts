/**
 * A synthetic VGG16: the exact topology of torchvision's `vgg16().features` (and optionally
 * its classifier) with seeded random weights, so tests and demos have a real-sized model
 * without a download or Python. The same seed always gives the same bytes.
 *
 * Weights: Kaiming-normal with fan_out and ReLU gain, as torchvision initialises VGG
 * (std = sqrt(2 / (out_channels * 9))). Biases: NOT zero as in torchvision, but normal with
 * std 0.05, so that a test can tell whether biases are applied. Classifier (when included):
 * Linear weights normal(0, 0.01) and zero biases, as torchvision. Values are drawn from
 * createRandom(seed) in PyTorch memory order, layer by layer, weights before biases.
 */
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import { INPUT_SIZE, LAYERS } from '../layers.js';
import { createRandom, type RandomSource } from '../random.js';
import { ONNX_FLOAT, serializeOnnx, type onnx } from './onnx-file.js';

const { TensorProto, NodeProto } = onnxProto.onnx;

export interface SynthesizeOptions {
  /** Seed for createRandom. Default 0. */
  readonly seed?: number;
  /**
   * Also append torchvision's classifier (Flatten, Linear 25088->4096, ReLU, Linear
   * 4096->4096, ReLU, Linear 4096->1000): about 490 MB more, like a full `vgg16()` export.
   * Default false.
   */
  readonly includeClassifier?: boolean;
}

/** Standard deviation of the synthetic conv biases. */
export const SYNTH_BIAS_STD = 0.05;
const CLASSIFIER_STD = 0.01;

function encodeTensor(name: string, dims: readonly number[], data: Float32Array): Uint8Array {
  return TensorProto.encode({
    name,
    dims: [...dims],
    dataType: ONNX_FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  }).finish();
}

function normals(random: RandomSource, count: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 1) out[i] = random.normal() * std;
  return out;
}

function ints(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnxProto.onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: value };
}

function float(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f: value };
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

/** Writes the synthetic model as ONNX bytes (~59 MB; ~553 MB with the classifier). */
export function synthesizeVgg16(options: SynthesizeOptions = {}): Uint8Array {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer; got ${seed}`);
  if (endianness() !== 'LE') throw new Error('synthesizeVgg16 writes raw little-endian floats; this machine is big-endian');
  const random = createRandom(seed);
  const nodes: onnx.INodeProto[] = [];
  const initializers: Uint8Array[] = [];

  let tensor = 'input';
  let channels = 3;
  for (const layer of LAYERS) {
    const prefix = `/features/features.${layer.featuresIndex}`;
    if (layer.kind === 'conv') {
      const out = layer.shape[0];
      const weight = `features.${layer.featuresIndex}.weight`;
      const bias = `features.${layer.featuresIndex}.bias`;
      initializers.push(encodeTensor(weight, [out, channels, 3, 3], normals(random, out * channels * 9, Math.sqrt(2 / (out * 9)))));
      initializers.push(encodeTensor(bias, [out], normals(random, out, SYNTH_BIAS_STD)));
      const convOut = `${prefix}/Conv_output_0`;
      nodes.push(
        NodeProto.create({
          name: `${prefix}/Conv`,
          opType: 'Conv',
          input: [tensor, weight, bias],
          output: [convOut],
          attribute: [ints('dilations', [1, 1]), int('group', 1), ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), ints('strides', [1, 1])],
        }),
      );
      const reluPrefix = `/features/features.${layer.featuresIndex + 1}`;
      tensor = `${reluPrefix}/Relu_output_0`;
      nodes.push(NodeProto.create({ name: `${reluPrefix}/Relu`, opType: 'Relu', input: [convOut], output: [tensor] }));
      channels = out;
    } else {
      const poolOut = `${prefix}/MaxPool_output_0`;
      nodes.push(
        NodeProto.create({
          name: `${prefix}/MaxPool`,
          opType: 'MaxPool',
          input: [tensor],
          output: [poolOut],
          attribute: [int('ceil_mode', 0), ints('kernel_shape', [2, 2]), ints('pads', [0, 0, 0, 0]), ints('strides', [2, 2])],
        }),
      );
      tensor = poolOut;
    }
  }

  let output = valueInfo(tensor, ['N', 512, 7, 7]);
  if (options.includeClassifier) {
    const flat = '/Flatten_output_0';
    nodes.push(NodeProto.create({ name: '/Flatten', opType: 'Flatten', input: [tensor], output: [flat], attribute: [int('axis', 1)] }));
    tensor = flat;
    const sizes: [number, number][] = [
      [512 * 7 * 7, 4096],
      [4096, 4096],
      [4096, 1000],
    ];
    sizes.forEach(([inFeatures, outFeatures], k) => {
      const index = k * 3; // classifier.0, classifier.3, classifier.6
      const weight = `classifier.${index}.weight`;
      const bias = `classifier.${index}.bias`;
      initializers.push(encodeTensor(weight, [outFeatures, inFeatures], normals(random, outFeatures * inFeatures, CLASSIFIER_STD)));
      initializers.push(encodeTensor(bias, [outFeatures], new Float32Array(outFeatures)));
      const last = k === sizes.length - 1;
      const gemmOut = last ? 'logits' : `/classifier/classifier.${index}/Gemm_output_0`;
      nodes.push(
        NodeProto.create({
          name: `/classifier/classifier.${index}/Gemm`,
          opType: 'Gemm',
          input: [tensor, weight, bias],
          output: [gemmOut],
          attribute: [float('alpha', 1), float('beta', 1), int('transB', 1)],
        }),
      );
      tensor = gemmOut;
      if (!last) {
        const reluOut = `/classifier/classifier.${index + 1}/Relu_output_0`;
        nodes.push(NodeProto.create({ name: `/classifier/classifier.${index + 1}/Relu`, opType: 'Relu', input: [tensor], output: [reluOut] }));
        tensor = reluOut;
      }
    });
    output = valueInfo(tensor, ['N', 1000]);
  }

  const model: onnx.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'strata-synth',
    producerVersion: '1',
    docString:
      `Synthetic VGG16 (seed ${seed}): Kaiming-normal fan_out conv weights, conv biases normal(0, ${SYNTH_BIAS_STD})` +
      (options.includeClassifier ? `, classifier weights normal(0, ${CLASSIFIER_STD}), zero biases` : ''),
    graph: {
      name: options.includeClassifier ? 'vgg16' : 'vgg16_features',
      node: nodes,
      input: [valueInfo('input', ['N', 3, INPUT_SIZE, INPUT_SIZE])],
      output: [output],
    },
  };
  return serializeOnnx(model, initializers);
}
