/**
 * Checks, when a worker starts, that it can run models where it was told to
 * (STRATA_WORKER_DEVICE): a GPU worker whose CUDA libraries or GPU are missing should stop at
 * once with onnxruntime's explanation, not take extraction jobs and fail every one of them while
 * a CPU worker could have run them.
 *
 * It runs a one-node model (Relu on one float) through the same runtime module extractions use.
 */
import onnxProto from 'onnx-proto';
import { ONNX_FLOAT } from '../model/onnx-file.js';
import type { ExecutionProvider } from '../model/runtime.js';

const { ModelProto } = onnxProto.onnx;

/** Opset 13 Relu: in every onnxruntime build and on every execution provider. */
function reluModel(): Uint8Array {
  const value = (name: string) => ({ name, type: { tensorType: { elemType: ONNX_FLOAT, shape: { dim: [{ dimValue: 1 }] } } } });
  return ModelProto.encode({
    irVersion: 8,
    producerName: 'strata-device-check',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'device_check', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [value('x')], output: [value('y')] },
  }).finish();
}

/**
 * Resolves when `provider` runs a model; rejects with the runtime's error otherwise (for CUDA:
 * how to install onnxruntime-node's CUDA binaries). Loads onnxruntime, so only workers call it.
 */
export async function checkExecutionProvider(provider: ExecutionProvider): Promise<void> {
  const { RuntimeSession } = await import('../model/runtime.js');
  const session = await RuntimeSession.create(reluModel(), { executionProvider: provider });
  try {
    const out = await session.run({ x: { data: new Float32Array([-1]), dims: [1] } });
    const y = out.get('y')?.data[0];
    if (y !== 0) throw new Error(`the ${provider} execution provider computed Relu(-1) = ${y}; expected 0`);
  } finally {
    await session.dispose();
  }
}
