/**
 * Worker-thread entry: takes chunks of each posted task from the shared counter until none are
 * left, then replies. All data is in shared memory; the reply only says "done" (or the error).
 */
import { parentPort } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './executor.js';
import { chunkCount, runChunk } from './kernels.js';

const port = parentPort;
if (port === null) throw new Error('worker.js must run in a worker thread');

port.on('message', ({ task, counter }: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const chunks = chunkCount(task);
    for (;;) {
      const chunk = Atomics.add(counter, 0, 1);
      if (chunk >= chunks) break;
      runChunk(task, chunk);
    }
    reply = { ok: true };
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  port.postMessage(reply);
});
