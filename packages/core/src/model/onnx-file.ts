/**
 * Reading and writing ONNX files without decoding their weights.
 *
 * A full VGG16 is ~550 MB, almost all of it classifier weights we never use. Decoding every
 * TensorProto with protobufjs would be wasteful, and for weights stored as `float_data`
 * (packed floats, as in older converter output) it would build JS number arrays of 100M+
 * entries. So the graph is split at the protobuf wire level: everything except
 * `graph.initializer` is decoded normally (nodes, inputs, outputs: a few kB), while each
 * initializer is kept as a view of its encoded bytes plus the few header fields we need
 * (name, data type, dims). Writing splices the kept initializers' bytes back verbatim, so
 * the only copy of the weights that is ever made is the one in the output buffer.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';

const { ModelProto, GraphProto } = onnxProto.onnx;

export type { onnx };

/** ONNX TensorProto.DataType.FLOAT. */
export const ONNX_FLOAT = 1;

/** An initializer, still encoded. */
export interface InitializerRef {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  /** True when the data lives in a separate file (`data_location: EXTERNAL`). */
  readonly external: boolean;
  /** The encoded TensorProto (a view into the file's bytes, not a copy). */
  readonly encoded: Uint8Array;
}

export interface OnnxFile {
  /** The model with `graph.initializer` left empty; see `initializers`. */
  readonly model: onnx.ModelProto;
  readonly graph: onnx.GraphProto;
  /** The graph's initializers by name, in file order. */
  readonly initializers: ReadonlyMap<string, InitializerRef>;
}

// Field numbers from onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const TENSOR_DATA_LOCATION = 14;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

class WireReader {
  pos = 0;

  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i += 1) {
      const byte = this.buf[this.pos];
      if (byte === undefined) throw new RangeError(`truncated varint at byte ${this.pos}`);
      this.pos += 1;
      // Multiplication rather than shifts: lengths and dims exceed 2^31 only in theory,
      // but shifts would silently wrap at 32 bits.
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new RangeError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** Returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const tag = this.varint();
    return [Math.floor(tag / 8), tag % 8];
  }

  lengthDelimited(): Uint8Array {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.buf.length) {
      throw new RangeError(`field of ${length} bytes at byte ${this.pos} runs past the end (${this.buf.length} bytes)`);
    }
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.pos += 8;
        break;
      case WIRE_LENGTH:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`unsupported protobuf wire type ${wireType} at byte ${this.pos}`);
    }
    if (this.pos > this.buf.length) throw new RangeError('truncated fixed-width field');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function scanInitializer(encoded: Uint8Array): InitializerRef {
  const reader = new WireReader(encoded);
  let name = '';
  let dataType = 0;
  let external = false;
  const dims: number[] = [];
  while (!reader.done) {
    const [field, wire] = reader.tag();
    if (field === TENSOR_DIMS && wire === WIRE_VARINT) {
      dims.push(reader.varint());
    } else if (field === TENSOR_DIMS && wire === WIRE_LENGTH) {
      const packed = new WireReader(reader.lengthDelimited());
      while (!packed.done) dims.push(packed.varint());
    } else if (field === TENSOR_DATA_TYPE && wire === WIRE_VARINT) {
      dataType = reader.varint();
    } else if (field === TENSOR_NAME && wire === WIRE_LENGTH) {
      name = utf8.decode(reader.lengthDelimited());
    } else if (field === TENSOR_DATA_LOCATION && wire === WIRE_VARINT) {
      external = reader.varint() === 1;
    } else {
      reader.skip(wire);
    }
  }
  return { name, dataType, dims, external, encoded };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Splits an encoded ModelProto into its decoded structure and its (still encoded)
 * initializers. `bytes` must stay alive as long as the initializers are used: they are views.
 * `source` names the file in error messages.
 */
export function parseOnnx(bytes: Uint8Array, source = 'model'): OnnxFile {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new TypeError(`${source} is a gzip archive, not an ONNX model; extract the .onnx file from it first`);
  }
  try {
    const modelRest: Uint8Array[] = [];
    let graphBytes: Uint8Array | undefined;
    const top = new WireReader(bytes);
    while (!top.done) {
      const start = top.pos;
      const [field, wire] = top.tag();
      if (field === MODEL_GRAPH && wire === WIRE_LENGTH) {
        if (graphBytes) throw new RangeError('more than one graph field');
        graphBytes = top.lengthDelimited();
      } else {
        top.skip(wire);
        modelRest.push(bytes.subarray(start, top.pos));
      }
    }
    if (!graphBytes) throw new RangeError('no graph');

    const graphRest: Uint8Array[] = [];
    const initializers = new Map<string, InitializerRef>();
    const reader = new WireReader(graphBytes);
    while (!reader.done) {
      const start = reader.pos;
      const [field, wire] = reader.tag();
      if (field === GRAPH_INITIALIZER && wire === WIRE_LENGTH) {
        const ref = scanInitializer(reader.lengthDelimited());
        initializers.set(ref.name, ref);
      } else {
        reader.skip(wire);
        graphRest.push(graphBytes.subarray(start, reader.pos));
      }
    }

    const model = ModelProto.decode(concat(modelRest));
    const graph = GraphProto.decode(concat(graphRest));
    model.graph = graph;
    return { model, graph, initializers };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TypeError(`Could not parse ${source} (${bytes.length} bytes) as an ONNX model: ${reason}`, {
      cause: error,
    });
  }
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 128) {
    out[offset] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
    offset += 1;
  }
  out[offset] = value;
  return offset + 1;
}

/**
 * Encodes `model` (whose `graph.initializer` must be empty) with `initializers` (encoded
 * TensorProtos) spliced into its graph. Protobuf lets repeated fields appear anywhere in a
 * message, so appending them after the other graph fields is a valid encoding.
 */
export function serializeOnnx(model: onnx.IModelProto, initializers: readonly Uint8Array[]): Uint8Array {
  const graph = model.graph;
  if (!graph) throw new TypeError('serializeOnnx: the model has no graph');
  if (graph.initializer && graph.initializer.length > 0) {
    throw new TypeError(
      `serializeOnnx: graph.initializer must be empty (got ${graph.initializer.length}); pass encoded initializers separately`,
    );
  }
  const graphHead = GraphProto.encode(graph).finish();
  let graphLength = graphHead.length;
  for (const init of initializers) graphLength += 1 + varintLength(init.length) + init.length;
  const modelHead = ModelProto.encode({ ...model, graph: null }).finish();
  const total = modelHead.length + 1 + varintLength(graphLength) + graphLength;

  const out = new Uint8Array(total);
  out.set(modelHead, 0);
  let offset = modelHead.length;
  out[offset] = (MODEL_GRAPH << 3) | WIRE_LENGTH;
  offset = writeVarint(out, offset + 1, graphLength);
  out.set(graphHead, offset);
  offset += graphHead.length;
  for (const init of initializers) {
    out[offset] = (GRAPH_INITIALIZER << 3) | WIRE_LENGTH;
    offset = writeVarint(out, offset + 1, init.length);
    out.set(init, offset);
    offset += init.length;
  }
  if (offset !== total) throw new Error(`serializeOnnx: wrote ${offset} bytes, expected ${total}`);
  return out;
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface ModelBytes {
  readonly bytes: Uint8Array;
  readonly sha256: string;
  /** The path it was read from, or "model bytes". */
  readonly source: string;
}

/** Reads a model file (or takes bytes as given) and hashes it. */
export async function readModelBytes(pathOrBytes: string | Uint8Array): Promise<ModelBytes> {
  if (typeof pathOrBytes === 'string') {
    const bytes = await readFile(pathOrBytes);
    return { bytes, sha256: sha256Hex(bytes), source: pathOrBytes };
  }
  if (!(pathOrBytes instanceof Uint8Array)) {
    throw new TypeError(`Expected a model path (string) or bytes (Uint8Array); got ${typeof pathOrBytes}`);
  }
  return { bytes: pathOrBytes, sha256: sha256Hex(pathOrBytes), source: 'model bytes' };
}

/** Converts a protobufjs int64 (number or Long) to a number. */
export function int64(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}
