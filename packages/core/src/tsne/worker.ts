/**
 * Worker-thread entry: waits for runs announced in the shared control array (executor.ts),
 * takes chunks of the run's task from the shared counter until none are left, and records the
 * generation it finished. Tasks arrive as messages on the port, read synchronously when a run
 * names them; all data is in shared memory.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { KernelTask } from './kernels.js';
import { chunkCount, runChunk } from './kernels.js';
import {
  CONTROL_CALLER_WAITING,
  CONTROL_COUNTER,
  CONTROL_DONE,
  CONTROL_GENERATION,
  CONTROL_MESSAGES,
  CONTROL_SLEEPING_WORKERS,
  CONTROL_TASK,
  TASK_EXIT,
} from './executor.js';
import type { WorkerFailure, WorkerMessage, WorkerSetup } from './executor.js';

/**
 * After a run, spin this long for the next before sleeping in Atomics.wait: within a gradient
 * step the next run comes in well under a millisecond, and waking a sleeping thread costs
 * ~30 us on this VM against ~2 us for a spinning one.
 */
const SPIN_MS = 1;
/** How long a run may wait for its task's message (it is posted before the run starts). */
const MESSAGE_WAIT_MS = 5000;

const setup = workerData as WorkerSetup | null;
if (setup === null || typeof setup !== 'object') throw new Error('worker.js must be started by the t-SNE executor');
const { control, index, port } = setup;
const tasks = new Map<number, KernelTask>();
let received = 0;

function receiveMessages(): void {
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    received++;
    const message = next.message as WorkerMessage;
    if ('release' in message) tasks.delete(message.release);
    else tasks.set(message.id, message.task);
  }
}

function taskFor(id: number): KernelTask {
  // Reading the port costs microseconds: only when messages were posted since the last read.
  if (received !== Atomics.load(control, CONTROL_MESSAGES)) receiveMessages();
  const deadline = performance.now() + MESSAGE_WAIT_MS;
  for (;;) {
    const task = tasks.get(id);
    if (task !== undefined) return task;
    if (performance.now() > deadline) throw new Error(`task ${id} was announced but never arrived`);
    receiveMessages();
  }
}

function waitForRun(after: number): number {
  let spinUntil = performance.now() + SPIN_MS;
  for (let spins = 1; ; spins++) {
    const generation = Atomics.load(control, CONTROL_GENERATION);
    if (generation !== after) return generation;
    if ((spins & 1023) === 0 && performance.now() > spinUntil) {
      Atomics.add(control, CONTROL_SLEEPING_WORKERS, 1);
      Atomics.wait(control, CONTROL_GENERATION, after);
      Atomics.sub(control, CONTROL_SLEEPING_WORKERS, 1);
      spinUntil = performance.now() + SPIN_MS;
    }
  }
}

for (let generation = 0; ; ) {
  generation = waitForRun(generation);
  const id = Atomics.load(control, CONTROL_TASK);
  if (id === TASK_EXIT) break;
  let ok = true;
  try {
    const task = taskFor(id);
    const chunks = chunkCount(task);
    for (;;) {
      const chunk = Atomics.add(control, CONTROL_COUNTER, 1);
      if (chunk >= chunks) break;
      runChunk(task, chunk);
    }
  } catch (error) {
    ok = false;
    const failure: WorkerFailure = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    port.postMessage(failure);
  }
  Atomics.store(control, CONTROL_DONE + index, ok ? generation : -generation);
  if (Atomics.load(control, CONTROL_CALLER_WAITING) === 1) Atomics.notify(control, CONTROL_DONE + index);
}
port.close();
