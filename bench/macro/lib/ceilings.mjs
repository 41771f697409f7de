// Machine ceilings measured in the same run as the brokers, so every broker figure can be
// read as a fraction of what the hardware allowed at that moment (the machines are shared
// and noisy; a ceiling from another day would mislead).
//
// - loopback: iperf3, one TCP stream over 127.0.0.1 (MB/s of payload).
// - disk: diskwrite, 1 MiB sequential writes with fdatasync every 1 MiB and every 16 MiB,
//   and without fdatasync (page cache), in the run directory, i.e. on the file system
//   that holds the brokers' data directories.
import { join } from 'node:path';
import { freePort, runTool, startServer, stopProcess } from './processes.mjs';

export async function runCeilings(ctx) {
  const { params, logDir, runDir, tools } = ctx;
  const port = await freePort();
  let server = null;
  try {
    // --forceflush: iperf3 block-buffers stdout into a pipe, hiding its ready line.
    server = await startServer('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port), '-1', '--forceflush'], {
      logPath: join(logDir, 'iperf3-server.log'),
      readyPattern: /Server listening/,
      readyTimeoutMs: 10_000,
    });
    const r = await runTool('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(params.iperfSeconds), '-J'], {
      timeoutMs: (params.iperfSeconds + 20) * 1000,
      wholeJson: true,
    });
    const bps = r.result?.end?.sum_received?.bits_per_second;
    ctx.record({
      id: 'ceil.loopback',
      section: 'ceilings',
      scenario: 'loopback TCP, one stream (iperf3)',
      system: 'machine',
      ok: r.ok && typeof bps === 'number',
      error: r.error ?? (typeof bps === 'number' ? null : 'iperf3 gave no result'),
      command: r.command,
      mbPerS: typeof bps === 'number' ? bps / 8 / 1e6 : null,
    });
  } catch (err) {
    ctx.record({ id: 'ceil.loopback', section: 'ceilings', scenario: 'loopback TCP, one stream (iperf3)', system: 'machine', ok: false, error: err.message });
  } finally {
    if (server) await stopProcess(server.child, { graceMs: 2000 });
  }

  const variants = [
    { id: 'ceil.disk.sync1', syncEvery: 1, scenario: 'sequential write, fdatasync every 1 MiB' },
    { id: 'ceil.disk.sync16', syncEvery: 16, scenario: 'sequential write, fdatasync every 16 MiB' },
    { id: 'ceil.disk.pagecache', syncEvery: 0, scenario: 'sequential write to page cache (no fdatasync)' },
    // The same after 10 s idle. This VM's balloon device offers free page reporting, so freed
    // memory likely goes back to the host after a few seconds; the row above writes into
    // pages the previous row freed a moment ago, this one into memory the host must back
    // again. When the host is busy that costs 5-10x (by hand: 230-345 MB/s against
    // 2.0-2.8 GB/s for a 1 GiB file), and every row that writes new data pays it.
    // Not in quick mode, where the pause would take a tenth of the two minutes.
    ...(params.idleCeilingSeconds > 0
      ? [{ id: 'ceil.disk.pagecache.fresh', syncEvery: 0, pauseS: params.idleCeilingSeconds, scenario: `sequential write to page cache (no fdatasync), after ${params.idleCeilingSeconds} s idle (memory the host took back)` }]
      : []),
  ];
  for (const v of variants) {
    if (v.pauseS) await new Promise((r) => setTimeout(r, v.pauseS * 1000));
    const r = await runTool(tools.diskwrite, [join(runDir, 'diskwrite.tmp'), String(params.diskMiB), String(v.syncEvery)], {
      timeoutMs: 300_000,
    });
    ctx.record({
      id: v.id,
      section: 'ceilings',
      scenario: `${v.scenario}, ${params.diskMiB} MiB in 1 MiB writes`,
      system: 'machine',
      ok: r.ok,
      error: r.error,
      command: r.command,
      mbPerS: r.result?.mb_per_s ?? null,
    });
  }
}
