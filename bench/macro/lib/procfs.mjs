// What the harness reads about a running server from /proc (Linux only): memory, CPU time
// and the number of established TCP connections to its port.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux the project runs on

function statusField(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resident set size in MiB, or null when the process is gone. */
export const rssMiB = (pid) => statusField(pid, 'VmRSS');
/** Peak resident set size in MiB since the process started. */
export const peakRssMiB = (pid) => statusField(pid, 'VmHWM');

/** User + system CPU seconds the process has used so far, or null. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S; // utime, stime
  } catch {
    return null;
  }
}

/** User and system CPU seconds of the process so far, apart, or null once it is gone. */
export function cpuSplitSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userS: Number(fields[11]) / CLOCK_TICKS_PER_S, systemS: Number(fields[12]) / CLOCK_TICKS_PER_S };
  } catch {
    return null;
  }
}

/** Bytes the process has written so far through write(2)-like calls (files and sockets), /proc/PID/io wchar; NaN once it is gone. */
export function writtenBytes(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/io`, 'utf8').match(/^wchar: (\d+)/m)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/**
 * Seconds the process spent runnable but waiting for a CPU (the second field of schedstat):
 * of its main thread (/proc/PID/schedstat; a Node broker's work), or with `allThreads`
 * summed over every thread (/proc/PID/task/TID/schedstat; a Go server works on many).
 * On a shared 2-core machine this says whether a row was limited by its own work or by
 * waiting its turn. Null once the process is gone.
 */
export function runQueueWaitS(pid, { allThreads = false } = {}) {
  const waitNs = (path) => Number(readFileSync(path, 'utf8').split(' ')[1]);
  try {
    if (!allThreads) return waitNs(`/proc/${pid}/schedstat`) / 1e9;
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += waitNs(`/proc/${pid}/task/${tid}/schedstat`);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return null;
  }
}

/** Established TCP connections whose local end is 127.0.0.1:`port` (IPv4 and IPv6). */
export function establishedConnections(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      // cols[1] = local address:port, cols[3] = state (01 = ESTABLISHED)
      if (cols[3] === '01' && cols[1].endsWith(`:${hexPort}`)) n++;
    }
  }
  return n;
}

/**
 * The machine's CPU time so far from /proc/stat, in clock ticks: all of it, idle (with
 * iowait), and steal (time the hypervisor gave this VM's CPUs to someone else).
 */
export function machineCpu() {
  try {
    const cols = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = cols;
    return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, steal };
  } catch {
    return null;
  }
}

/** Busy and steal shares (%) of the machine between two machineCpu() readings. */
export function machineShares(a, b) {
  if (!a || !b || b.total <= a.total) return null;
  const total = b.total - a.total;
  return { busyPct: Math.round((1 - (b.idle - a.idle) / total) * 100), stealPct: Math.round(((b.steal - a.steal) / total) * 1000) / 10 };
}

/** How often sampleThreadCpu reads /proc. */
const THREAD_SAMPLE_MS = 100;

/**
 * Samples the CPU of every thread of `rootPid` and its descendants every THREAD_SAMPLE_MS
 * until the returned function is called; that returns the busiest thread over the window
 * ({ comm, cpuS, share }, share = its CPU over the wall time; 1 = a saturated core), or
 * null. The busiest client thread shows whether the client itself is the bottleneck: a
 * thread at ~100% cannot go faster, whatever the server does. Threads present at the first
 * sample count from there, later ones from 0; CPU a thread spends after the last sample
 * (< THREAD_SAMPLE_MS) is not counted.
 */
export function sampleThreadCpu(rootPid) {
  const threads = new Map(); // "pid/tid" -> { comm, cpuS, baseS }
  const started = process.hrtime.bigint();
  let first = true;
  const list = (path) => { try { return readdirSync(path); } catch { return []; } };
  const read = (path) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
  const descendants = (pid) => {
    const out = [pid];
    for (const tid of list(`/proc/${pid}/task`)) {
      const children = read(`/proc/${pid}/task/${tid}/children`).trim();
      if (children !== '') for (const c of children.split(' ')) out.push(...descendants(Number(c)));
    }
    return out;
  };
  const sample = () => {
    for (const pid of descendants(rootPid)) {
      for (const tid of list(`/proc/${pid}/task`)) {
        const stat = read(`/proc/${pid}/task/${tid}/stat`);
        if (stat === '') continue;
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
        const key = `${pid}/${tid}`;
        threads.set(key, { comm, cpuS, baseS: threads.get(key)?.baseS ?? (first ? cpuS : 0) });
      }
    }
    first = false;
  };
  sample();
  const timer = setInterval(sample, THREAD_SAMPLE_MS);
  return () => {
    clearInterval(timer);
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const busiest = [...threads.values()].map((t) => ({ comm: t.comm, cpuS: t.cpuS - t.baseS })).sort((a, b) => b.cpuS - a.cpuS)[0];
    return busiest === undefined ? null : { ...busiest, share: busiest.cpuS / wallS };
  };
}

/** A process below this share of a core is idle (waitUntilIdle). */
const IDLE_CPU_PCT = 5;
/** waitUntilIdle's sampling interval. */
const IDLE_STEP_MS = 250;

/**
 * Waits until every process in `pids` is idle (under IDLE_CPU_PCT of a core) in two samples
 * IDLE_STEP_MS apart, or `timeoutMs` has passed; whether they went idle. The benches use it
 * so that start-up work (a broker creating its replicas, a server settling its cluster) does
 * not land in the measured window.
 */
export async function waitUntilIdle(pids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let before = pids.map((pid) => cpuSeconds(pid) ?? 0);
  while (quiet < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, IDLE_STEP_MS));
    const now = pids.map((pid) => cpuSeconds(pid) ?? 0);
    const busiest = Math.max(...now.map((c, i) => (100 * (c - before[i])) / (IDLE_STEP_MS / 1000)));
    before = now;
    quiet = busiest < IDLE_CPU_PCT ? quiet + 1 : 0;
  }
  return quiet >= 2;
}

/** The median of the finite values of `xs` (the upper one of an even count), NaN if none. */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}
