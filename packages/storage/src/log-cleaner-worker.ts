/**
 * A log cleaner thread (Kafka's CleanerThread): a worker_threads worker that runs
 * cleanLog (log-cleaner-core.ts) for each task the main thread posts, one at a time, and
 * answers with the result or the error message. It touches only files the main thread
 * handed it (the cleanable segments, read only, and the `.cleaned` files it creates).
 */
import { parentPort } from 'node:worker_threads';
import { nodeFileSystem } from './file-system.js';
import type { CleanTask } from './log-cleaner-core.js';
import { cleanLog } from './log-cleaner-core.js';

export interface CleanRequest {
  id: number;
  task: CleanTask;
}

parentPort!.on('message', (request: CleanRequest) => {
  cleanLog(request.task, nodeFileSystem).then(
    (result) => parentPort!.postMessage({ id: request.id, result }),
    (err: unknown) => parentPort!.postMessage({ id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
