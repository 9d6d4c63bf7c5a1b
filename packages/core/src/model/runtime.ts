/**
 * The one module that talks to onnxruntime-node: it creates, runs and disposes inference
 * sessions. Everything else in Strata goes through here, so the native dependency stays out
 * of code (and bundles) that never runs a model.
 */
import * as ort from 'onnxruntime-node';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface SessionOptions {
  /** Where to run. Default 'cpu'. */
  readonly executionProvider?: ExecutionProvider;
  /** Threads used inside one operator (a convolution). Default: onnxruntime's choice (one per core). */
  readonly intraOpThreads?: number;
  /** Threads used to run independent operators in parallel. Default: onnxruntime's choice. */
  readonly interOpThreads?: number;
}

/** A float32 tensor: data plus its shape. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

const CUDA_HELP =
  'The CUDA execution provider is not available in this onnxruntime-node install (its CUDA libraries were not downloaded). ' +
  'To use it, on a machine with CUDA 12 and cuDNN 9, reinstall onnxruntime-node with the CUDA binaries: ' +
  '`npm install onnxruntime-node --onnxruntime-node-install=cuda12` (or set ONNXRUNTIME_NODE_INSTALL=cuda12 before `npm install`). ' +
  "Otherwise use executionProvider 'cpu'.";

/** Checks a provider name from user input; the error lists the valid ones. */
export function parseExecutionProvider(value: string): ExecutionProvider {
  const found = EXECUTION_PROVIDERS.find((provider) => provider === value);
  if (!found) {
    throw new RangeError(`Unknown execution provider "${value}"; expected one of ${EXECUTION_PROVIDERS.join(', ')}`);
  }
  return found;
}

function checkThreads(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`${name} must be a positive integer; got ${value}`);
  }
}

/** An onnxruntime session with float32 inputs and outputs. */
export class RuntimeSession {
  #session: ort.InferenceSession | undefined;

  private constructor(
    session: ort.InferenceSession,
    readonly executionProvider: ExecutionProvider,
  ) {
    this.#session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];

  /**
   * Creates a session from an encoded model. The bytes may be dropped once this resolves:
   * onnxruntime keeps its own copy of the weights.
   */
  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<RuntimeSession> {
    const provider = parseExecutionProvider(options.executionProvider ?? 'cpu');
    checkThreads('intraOpThreads', options.intraOpThreads);
    checkThreads('interOpThreads', options.interOpThreads);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
      ...(options.interOpThreads !== undefined ? { interOpNumThreads: options.interOpThreads } : {}),
    };
    try {
      return new RuntimeSession(await ort.InferenceSession.create(model, sessionOptions), provider);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (provider === 'cuda' && /cuda|shared librar|providers_/i.test(message)) {
        throw new Error(`${CUDA_HELP} (onnxruntime said: ${message})`, { cause: error });
      }
      throw error;
    }
  }

  /** Runs the model; returns the requested outputs (all of them by default) by name. */
  async run(feeds: Readonly<Record<string, FloatTensor>>, outputs?: readonly string[]): Promise<Map<string, FloatTensor>> {
    const session = this.#session;
    if (!session) throw new Error('This session has been disposed');
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
    }
    const results = outputs ? await session.run(ortFeeds, [...outputs]) : await session.run(ortFeeds);
    const out = new Map<string, FloatTensor>();
    for (const [name, value] of Object.entries(results)) {
      if (value.type !== 'float32' || !(value.data instanceof Float32Array)) {
        throw new TypeError(`Output "${name}" has type ${value.type}; expected float32`);
      }
      out.set(name, { data: value.data, dims: value.dims });
    }
    return out;
  }

  /** Frees the native session. Safe to call twice. */
  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.release();
  }
}
