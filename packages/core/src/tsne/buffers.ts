/**
 * Typed arrays on SharedArrayBuffer, so that worker threads read and write the same memory as
 * the calling thread (a typed array on a plain ArrayBuffer would be copied by postMessage).
 */

export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

/** The input itself when it already lives in shared memory, else a shared copy. */
export function toSharedFloat32(data: Float32Array): Float32Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const copy = sharedFloat32(data.length);
  copy.set(data);
  return copy;
}
