import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NpyMatrixReader, NpyRowWriter, encodeNpy, readNpyMatrix } from '../src/npy.js';
import { runPython } from './python.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-npy-'));

function matrix(rows: number, columns: number, offset = 0): Float32Array {
  return Float32Array.from({ length: rows * columns }, (_, i) => Math.fround((i + offset) * 0.25 - 3));
}

describe('npy', () => {
  it('writes rows that numpy loads with the right shape, dtype and values', () => {
    const path = join(dir, 'a.npy');
    const writer = NpyRowWriter.create(path, 5);
    writer.append(matrix(3, 5));
    writer.append(matrix(4, 5, 15));
    writer.finish();
    const out = JSON.parse(
      runPython(
        'import json, numpy as np, sys; a = np.load(sys.argv[1]); print(json.dumps({"dtype": str(a.dtype), "shape": a.shape, "c": bool(a.flags["C_CONTIGUOUS"]), "values": a.ravel().tolist()}))',
        [path],
      ),
    ) as { dtype: string; shape: number[]; c: boolean; values: number[] };
    expect(out).toEqual({ dtype: 'float32', shape: [7, 5], c: true, values: Array.from(matrix(7, 5)) });
  });

  it('resumes by truncating to the checkpointed rows', () => {
    const path = join(dir, 'b.npy');
    const writer = NpyRowWriter.create(path, 3);
    writer.append(matrix(4, 3));
    writer.sync();
    writer.close(); // a crash after 4 rows were written but only 2 checkpointed
    const resumed = NpyRowWriter.resume(path, 3, 2);
    resumed.append(matrix(2, 3, 6));
    resumed.finish();
    const { data, rows, columns } = readNpyMatrix(path);
    expect([rows, columns]).toEqual([4, 3]);
    expect(Array.from(data)).toEqual(Array.from(matrix(4, 3)));
  });

  it('refuses to resume past what is on disk', () => {
    const path = join(dir, 'c.npy');
    const writer = NpyRowWriter.create(path, 3);
    writer.append(matrix(1, 3));
    writer.close();
    expect(() => NpyRowWriter.resume(path, 3, 5)).toThrow(/checkpoint says 5 rows/);
  });

  it('reads numpy-written files and row ranges, and names bad files', () => {
    const path = join(dir, 'numpy.npy');
    runPython('import numpy as np, sys; np.save(sys.argv[1], np.arange(24, dtype=np.float32).reshape(6, 4) / 8)', [path]);
    const reader = new NpyMatrixReader(path);
    expect([reader.rows, reader.columns]).toEqual([6, 4]);
    expect(Array.from(reader.readRows(2, 4))).toEqual(Array.from({ length: 8 }, (_, i) => (i + 8) / 8));
    reader.close();

    const f64 = join(dir, 'f64.npy');
    runPython('import numpy as np, sys; np.save(sys.argv[1], np.zeros((2, 2)))', [f64]);
    expect(() => new NpyMatrixReader(f64)).toThrow(/f64\.npy: dtype <f8, expected float32/);

    const truncated = join(dir, 'truncated.npy');
    const bytes = encodeNpy(matrix(4, 4), [4, 4]);
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(() => new NpyMatrixReader(truncated)).toThrow(/truncated/);

    const notNpy = join(dir, 'text.npy');
    writeFileSync(notNpy, 'hello');
    expect(() => new NpyMatrixReader(notNpy)).toThrow(/text\.npy: not a \.npy file/);
  });

  it('encodes whole matrices with 64-byte aligned headers', () => {
    const path = join(dir, 'd.npy');
    const bytes = encodeNpy(matrix(2, 3), [2, 3]);
    writeFileSync(path, bytes);
    expect((statSync(path).size - 24) % 64).toBe(0);
    const loaded = JSON.parse(runPython('import json, numpy as np, sys; print(json.dumps(np.load(sys.argv[1]).tolist()))', [path])) as number[][];
    expect(loaded).toEqual([Array.from(matrix(2, 3).subarray(0, 3)), Array.from(matrix(2, 3).subarray(3))]);
  });
});
