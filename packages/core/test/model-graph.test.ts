import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { getLayer, LAYERS, parseLayerList } from '../src/layers.js';
import { cutToLayers } from '../src/model/graph-cut.js';
import { int64, parseOnnx, serializeOnnx, sha256Hex, type OnnxFile, type onnx } from '../src/model/onnx-file.js';
import { synthesizeVgg16 } from '../src/model/synth.js';
import { findVgg16Layers, NotVgg16Error } from '../src/model/vgg16-graph.js';

const { ModelProto } = onnxProto.onnx;

const synth = synthesizeVgg16({ seed: 1 });

/** Re-encodes `file` after `edit` changed its nodes. */
function edited(edit: (nodes: onnx.INodeProto[]) => onnx.INodeProto[]): OnnxFile {
  const file = parseOnnx(synth);
  file.graph.node = edit([...file.graph.node]) as onnx.NodeProto[];
  return parseOnnx(serializeOnnx(file.model, [...file.initializers.values()].map((init) => init.encoded)));
}

function dims(info: onnx.IValueInfoProto | undefined): (number | string)[] {
  return (info?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : int64(d.dimValue)));
}

describe('synthesizeVgg16', () => {
  it('is deterministic per seed and ~59 MB', () => {
    expect(synth.length).toBeGreaterThan(58_000_000);
    expect(synth.length).toBeLessThan(60_000_000);
    expect(sha256Hex(synthesizeVgg16({ seed: 1 }))).toBe(sha256Hex(synth));
    expect(sha256Hex(synthesizeVgg16({ seed: 2 }))).not.toBe(sha256Hex(synth));
  });

  it('decodes as a plain ONNX model with 13 convs and 5 pools', () => {
    const model = ModelProto.decode(synth);
    const ops = model.graph?.node?.map((n) => n.opType) ?? [];
    expect(ops.filter((op) => op === 'Conv')).toHaveLength(13);
    expect(ops.filter((op) => op === 'MaxPool')).toHaveLength(5);
    expect(model.graph?.initializer).toHaveLength(26);
    expect(dims(model.graph?.input?.[0])).toEqual(['N', 3, 224, 224]);
  });
});

describe('findVgg16Layers', () => {
  it('locates all 18 layers of the synthetic model', () => {
    const layout = findVgg16Layers(parseOnnx(synth));
    expect(layout.inputName).toBe('input');
    expect([...layout.layers.keys()]).toEqual(LAYERS.map((l) => l.name));
    expect(layout.layers.get('conv1')?.tensor).toBe('/features/features.0/Conv_output_0');
    expect(layout.layers.get('pool5')?.tensor).toBe('/features/features.30/MaxPool_output_0');
  });

  it('steps over Identity and Dropout nodes on the chain', () => {
    const file = edited((nodes) => {
      // conv1 -> Relu -> [Identity] -> [Dropout] -> conv2
      const relu = nodes[1] as onnx.INodeProto;
      const reluOut = relu.output?.[0] as string;
      const conv2 = nodes[2] as onnx.INodeProto;
      conv2.input = ['dropped', ...(conv2.input ?? []).slice(1)];
      return [
        nodes[0] as onnx.INodeProto,
        relu,
        { opType: 'Identity', input: [reluOut], output: ['same'] },
        { opType: 'Dropout', input: ['same'], output: ['dropped'] },
        ...nodes.slice(2),
      ];
    });
    const layout = findVgg16Layers(file);
    expect(layout.layers.size).toBe(18);
    expect(layout.layers.get('conv2')?.tensor).toBe('/features/features.2/Conv_output_0');
  });

  it('rejects a network with too few convolutions, saying what it found', () => {
    // Drop conv13 and its Relu: pool5 then follows conv12's Relu.
    const file = edited((nodes) => {
      const convAt = nodes.findIndex((n) => n.name === '/features/features.28/Conv');
      const pool = nodes[convAt + 2] as onnx.INodeProto;
      pool.input = [nodes[convAt - 1]?.output?.[0] as string];
      return [...nodes.slice(0, convAt), ...nodes.slice(convAt + 2)];
    });
    expect(() => findVgg16Layers(file, 'broken.onnx')).toThrow(NotVgg16Error);
    expect(() => findVgg16Layers(file, 'broken.onnx')).toThrow(
      /broken\.onnx is not a VGG16 model: found MaxPool node "\/features\/features\.30\/MaxPool" after 12 Conv and 4 MaxPool \(last: conv12\) where conv13 was expected/,
    );
  });

  it('rejects a conv with the wrong channel count, naming actual and expected shapes', () => {
    const file = edited((nodes) => {
      // conv3 gets conv4's weight: [128, 128, 3, 3] where [128, 64, 3, 3] is expected.
      const conv3 = nodes.find((n) => n.name === '/features/features.5/Conv') as onnx.INodeProto;
      conv3.input = [conv3.input?.[0] as string, 'features.7.weight', 'features.5.bias'];
      return nodes;
    });
    expect(() => findVgg16Layers(file)).toThrow(/conv3 \(Conv node "\/features\/features\.5\/Conv"\) has weight shape \[128, 128, 3, 3\], expected \[128, 64, 3, 3\]/);
  });

  it('rejects a graph that ends early', () => {
    const file = edited((nodes) => nodes.slice(0, 10));
    expect(() => findVgg16Layers(file)).toThrow(/the chain ends at tensor ".*" after 4 Conv and 2 MaxPool \(last: pool2\)/);
  });

  it('rejects an input that is not an image batch', () => {
    const file = parseOnnx(synth);
    const shape = file.graph.input[0]?.type?.tensorType?.shape;
    if (shape?.dim?.[1]) shape.dim[1] = { dimValue: 1 };
    expect(() => findVgg16Layers(file)).toThrow(/input "input" has shape \[N, 1, 224, 224\], expected \[N, 3, 224, 224\]/);
  });
});

describe('cutToLayers', () => {
  const file = parseOnnx(synth);
  const layout = findVgg16Layers(file);

  it('cuts after pool1: 2 convs, 1 pool, only their initializers, symbolic batch', () => {
    const cut = cutToLayers(file, layout, [getLayer('pool1')]);
    const model = ModelProto.decode(cut.bytes);
    const graph = model.graph as onnx.GraphProto;
    expect(graph.node.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'Conv', 'Relu', 'MaxPool']);
    expect(graph.initializer.map((t) => t.name).sort()).toEqual(['features.0.bias', 'features.0.weight', 'features.2.bias', 'features.2.weight']);
    expect(graph.input.map((i) => i.name)).toEqual(['input']);
    expect(dims(graph.input[0])).toEqual(['N', 3, 224, 224]);
    expect(graph.output.map((o) => o.name)).toEqual(['/features/features.4/MaxPool_output_0']);
    expect(dims(graph.output[0])).toEqual(['N', 64, 112, 112]);
    expect(graph.valueInfo).toHaveLength(0);
    expect(cut.bytes.length).toBeLessThan(200_000);
    // The original's weights survive untouched.
    const weight = graph.initializer.find((t) => t.name === 'features.2.weight');
    const original = ModelProto.decode(synth).graph?.initializer?.find((t) => t.name === 'features.2.weight');
    expect(sha256Hex(weight?.rawData ?? new Uint8Array())).toBe(sha256Hex(original?.rawData ?? new Uint8Array(1)));
  });

  it('outputs several layers in network order, with conv outputs before ReLU', () => {
    const cut = cutToLayers(file, layout, parseLayerList('pool2,conv1,conv4'));
    const graph = ModelProto.decode(cut.bytes).graph as onnx.GraphProto;
    expect(graph.output.map((o) => o.name)).toEqual([
      '/features/features.0/Conv_output_0',
      '/features/features.7/Conv_output_0',
      '/features/features.9/MaxPool_output_0',
    ]);
    expect(graph.node.filter((n) => n.opType === 'Conv')).toHaveLength(4);
    expect(graph.initializer).toHaveLength(8);
    expect([...cut.outputNames.keys()]).toEqual(['conv1', 'conv4', 'pool2']);
  });

  it('drops the classifier of a full-size model (550 MB) when cutting at pool5', () => {
    const full = synthesizeVgg16({ seed: 1, includeClassifier: true });
    expect(full.length).toBeGreaterThan(550_000_000);
    const fullFile = parseOnnx(full);
    expect(fullFile.initializers.size).toBe(32);
    const fullLayout = findVgg16Layers(fullFile);
    const cut = cutToLayers(fullFile, fullLayout, [getLayer('pool5')]);
    const graph = ModelProto.decode(cut.bytes).graph as onnx.GraphProto;
    expect(graph.node.some((n) => n.opType === 'Gemm' || n.opType === 'Flatten')).toBe(false);
    expect(graph.initializer).toHaveLength(26);
    expect(cut.bytes.length).toBeLessThan(60_000_000);
  }, 120_000);
});
