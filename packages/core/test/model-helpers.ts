/**
 * Test helpers for the model tests: the Python reference scripts (test/parity/*.py) and a
 * minimal .npy reader/writer for exchanging float32 tensors with them.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's Python with python3-torch, -torchvision, -onnx, -numpy (not a pyenv shim). */
export const PYTHON = '/usr/bin/python3';
export const PARITY_DIR = join(dirname(fileURLToPath(import.meta.url)), 'parity');

/** Throws a clear error when the reference Python stack is missing. */
export async function requirePythonTorch(): Promise<void> {
  try {
    await run(PYTHON, ['-c', 'import torch, torchvision, onnx, numpy'], { timeout: 120_000 });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      `These tests need ${PYTHON} with torch, torchvision, onnx and numpy ` +
        `(Debian: apt-get install python3-torch python3-torchvision python3-onnx python3-numpy); import failed: ${detail}`,
    );
  }
}

export async function python(script: string, args: readonly string[]): Promise<void> {
  try {
    await run(PYTHON, [join(PARITY_DIR, script), ...args], { timeout: 300_000, maxBuffer: 16 << 20 });
  } catch (error) {
    const e = error as { message?: string; stderr?: string };
    throw new Error(`${script} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export type Vgg16Variant = 'features' | 'full' | 'zoo';

export async function exportVgg16(seed: number, variant: Vgg16Variant, out: string): Promise<string> {
  await python('export_vgg16.py', ['--seed', String(seed), '--variant', variant, '--out', out]);
  return out;
}

export interface NpyArray {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export async function writeNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  await writeFile(path, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

export async function readNpy(path: string): Promise<NpyArray> {
  const bytes = await readFile(path);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path} is not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${path}: expected C-order little-endian float32, header ${header}`);
  }
  const shapeText = /'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const body = bytes.subarray(start + headerLength);
  const data = new Float32Array(body.byteLength / 4);
  new Uint8Array(data.buffer).set(body);
  return { data, shape };
}

/** max |a - b| / max |b|: the error relative to the reference's scale. */
export function relativeMaxError(actual: Float32Array, reference: Float32Array): { maxAbsDiff: number; scale: number; relative: number } {
  if (actual.length !== reference.length) throw new RangeError(`length ${actual.length} vs reference ${reference.length}`);
  let maxAbsDiff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i += 1) {
    const r = reference[i] as number;
    const diff = Math.abs((actual[i] as number) - r);
    if (!(diff <= maxAbsDiff)) maxAbsDiff = diff; // also catches NaN
    if (Math.abs(r) > scale) scale = Math.abs(r);
  }
  return { maxAbsDiff, scale, relative: scale > 0 ? maxAbsDiff / scale : maxAbsDiff };
}
