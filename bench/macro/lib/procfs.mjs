// What the harness reads about a running server from /proc (Linux only): memory, CPU time
// and the number of established TCP connections to its port.
import { readFileSync } from 'node:fs';

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
