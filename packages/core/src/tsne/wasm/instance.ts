/**
 * Instantiates the engine's small hand-written WebAssembly modules (the .wat files here, built
 * into base64 constants by bench/tsne/wat.mjs). Each thread makes its own instance with its own
 * memory. Returns undefined where WebAssembly or its SIMD instructions are missing (or for tests
 * that turn it off): callers then run their JavaScript loop, which gives the same bits.
 */

/** The little of the WebAssembly API used here (this package's TypeScript lib does not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

export interface WasmInstance {
  memory: WasmMemory;
  exports: Record<string, unknown>;
  /** Grows the memory to at least `bytes`; views on the old buffer must be made again. */
  reserve(bytes: number): void;
}

const PAGE = 65536;
let allowed = true;

/** For tests: refuse WebAssembly (false) so the JavaScript loops run, or allow it again. */
export function allowWasm(enabled: boolean): void {
  allowed = enabled;
}

export function wasmAllowed(): boolean {
  return allowed;
}

export function instantiate(base64: string): WasmInstance | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!allowed || wasm === undefined) return undefined;
  const bytes = Buffer.from(base64, 'base64');
  if (!wasm.validate(bytes)) return undefined;
  const { exports } = new wasm.Instance(new wasm.Module(bytes), {});
  const memory = exports.memory as WasmMemory;
  return {
    memory,
    exports,
    reserve(bytes: number): void {
      if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    },
  };
}
