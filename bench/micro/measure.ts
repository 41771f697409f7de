/**
 * A tiny timing loop for micro-benchmarks: warm up, then run the function for about
 * `durationMs`, and report the median of batches of calls so one GC pause does not
 * decide the figure.
 */
export async function measure(bytesPerCall: number, fn: () => unknown | Promise<unknown>, durationMs = 1500): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const rates: number[] = [];
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    const start = performance.now();
    let calls = 0;
    while (performance.now() - start < 50) {
      await fn();
      calls++;
    }
    const seconds = (performance.now() - start) / 1000;
    rates.push((bytesPerCall * calls) / seconds / 1e6);
  }
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1]!;
}

export function row(name: string, mbPerSecond: number, note = ''): void {
  console.log(`${name.padEnd(44)} ${mbPerSecond.toFixed(0).padStart(7)} MB/s  ${note}`);
}
