// The machine a run happened on, for the report: without it a figure means nothing.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';

function versionOf(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .split('\n')[0]
      .trim();
  } catch {
    return 'not installed';
  }
}

export function describeMachine() {
  let cpuModel = 'unknown';
  try {
    cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpuModel;
  } catch {
    // not Linux
  }
  let librdkafka = 'unknown';
  try {
    librdkafka = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'librdkafka-dev'], { encoding: 'utf8', timeout: 5000 });
  } catch {
    // not Debian
  }
  return {
    nproc: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpuModel,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    librdkafka,
    natsServer: versionOf('nats-server', ['--version']),
    redisServer: versionOf('redis-server', ['--version']).replace(/ sha=.*/, ''),
    iperf3: versionOf('iperf3', ['--version']),
  };
}
