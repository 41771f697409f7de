/**
 * A log cleaner thread (Kafka's CleanerThread): a worker_threads worker that runs
 * cleanLog (log-cleaner-core.ts) for each task the main thread posts, one at a time, and
 * answers with the result or the error message. It touches only files the main thread
 * handed it (the cleanable segments, read only, and the `.cleaned` files it creates).
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { nodeFileSystem } from './file-system.js';
import type { CleanTask } from './log-cleaner-core.js';
import { cleanLog } from './log-cleaner-core.js';

export interface CleanRequest {
  id: number;
  task: CleanTask;
}

/**
 * Nice value of a cleaner thread. Cleaning is background work: on a busy machine the
 * event loop serving clients (and the clients themselves, on a shared host) should get the
 * CPU first. On Linux, setpriority(PRIO_PROCESS, 0) applies to the calling thread only, so
 * this lowers this worker and nothing else; the bench (docs/benchmarks.md, "Compaction")
 * measured producer throughput on another topic losing ~20% while the cleaner ran at
 * nice 0 on 2 cores. Where the call is refused, the thread keeps the default.
 */
const CLEANER_THREAD_NICE = 19;
try {
  os.setPriority(CLEANER_THREAD_NICE);
} catch {
  // Not permitted or not supported: cleaning still works, at normal priority.
}
lowerToIdlePolicy();

/**
 * Moves this thread to SCHED_IDLE (Linux), through util-linux's `chrt` as Node has no call
 * for it. Nice 19 still lets the cleaner, once the scheduler picks it, run out its time
 * slice (milliseconds) before a request thread that just woke up gets the core; a
 * SCHED_IDLE thread is preempted at once by any normal thread that wakes, which is what a
 * background cleaner wants on a host where the request path and its clients fill the
 * cores. Unprivileged processes may always lower a thread to SCHED_IDLE. Once, when the
 * thread starts (the spawn blocks only this thread); where `chrt` is missing or refused,
 * nice 19 stays.
 */
function lowerToIdlePolicy(): void {
  if (process.platform !== 'linux') return;
  try {
    // /proc/thread-self -> /proc/<pid>/task/<tid>: this thread's id, which chrt -p takes.
    const tid = path.basename(readlinkSync('/proc/thread-self'));
    spawnSync('chrt', ['--idle', '--pid', '0', tid], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // No /proc or no chrt: nice 19 is the fallback.
  }
}

parentPort!.on('message', (request: CleanRequest) => {
  cleanLog(request.task, nodeFileSystem).then(
    (result) => parentPort!.postMessage({ id: request.id, result }),
    (err: unknown) => parentPort!.postMessage({ id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
