/**
 * Worker thread of the resize pool: Pillow-exact resizes of one image to one or more sizes.
 * Pixels arrive and leave as transferred buffers, so nothing is copied between threads.
 */
import { parentPort } from 'node:worker_threads';

import { pilResize } from '../image/pil-resize.js';
import type { ResizeReply, ResizeRequest } from './resize-pool.js';

const port = parentPort;
if (port === null) throw new Error('resize-worker.js must run as a worker thread');
port.on('message', (request: ResizeRequest) => {
  try {
    const image = { data: request.data, width: request.width, height: request.height, channels: request.channels };
    const results = request.targets.map(([width, height]) => pilResize(image, { width, height }, { filter: request.filter }).data);
    port.postMessage({ id: request.id, ok: true, results } satisfies ResizeReply, results.map((data) => data.buffer as ArrayBuffer));
  } catch (error) {
    port.postMessage({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ResizeReply);
  }
});
