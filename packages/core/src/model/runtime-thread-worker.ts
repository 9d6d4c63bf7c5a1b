/**
 * Worker thread of ThreadedRuntimeSession: holds one onnxruntime session and runs the batches
 * it is sent, in order. Outputs leave as transferred buffers when onnxruntime's buffers can be
 * moved, as copies otherwise.
 */
import { parentPort } from 'node:worker_threads';

import { RuntimeSession, type FloatTensor } from './runtime.js';
import type { RuntimeThreadReply, RuntimeThreadRequest } from './runtime-thread.js';

const port = parentPort;
if (port === null) throw new Error('runtime-thread-worker.js must run as a worker thread');

let session: RuntimeSession | undefined;

function errorReply(error: unknown, id?: number): RuntimeThreadReply {
  const failure = error instanceof Error ? error : new Error(String(error));
  return { kind: 'error', ...(id !== undefined ? { id } : {}), message: failure.message, name: failure.name };
}

function post(reply: RuntimeThreadReply, outputs: readonly [string, FloatTensor][] = []): void {
  const buffers = outputs.map(([, tensor]) => tensor.data.buffer as ArrayBuffer);
  try {
    port?.postMessage(reply, buffers);
  } catch {
    // onnxruntime may hand out buffers that cannot be detached: send copies instead.
    port?.postMessage(reply);
  }
}

port.on('message', async (request: RuntimeThreadRequest) => {
  switch (request.kind) {
    case 'create':
      try {
        session = await RuntimeSession.create(request.model, request.options);
        post({ kind: 'created', inputNames: [...session.inputNames], outputNames: [...session.outputNames], executionProvider: session.executionProvider });
      } catch (error) {
        post(errorReply(error));
      }
      return;
    case 'run':
      try {
        if (!session) throw new Error('The inference thread has no session');
        const outputs = [...(await session.run(request.feeds, request.outputs))];
        post({ kind: 'result', id: request.id, outputs }, outputs);
      } catch (error) {
        post(errorReply(error, request.id));
      }
      return;
    case 'dispose':
      await session?.dispose();
      session = undefined;
      post({ kind: 'disposed' });
      return;
  }
});
