/**
 * Runs seeds of the replication simulation from the command line:
 *
 *   node --conditions=source --import tsx packages/broker/test/sim/run.ts 42         one seed, its whole trace
 *   node --conditions=source --import tsx packages/broker/test/sim/run.ts 1 500      seeds 1..500, a line per failure
 *
 * TRIBUTARY_SIM_EVENTS overrides the events per seed.
 */
import { runSeed } from './world.js';

const [first, last] = process.argv.slice(2).map(Number);
const events = process.env['TRIBUTARY_SIM_EVENTS'] !== undefined ? { events: Number(process.env['TRIBUTARY_SIM_EVENTS']) } : {};
if (first === undefined || !Number.isInteger(first)) {
  console.error('usage: run.ts <seed> [<last seed>]');
  process.exit(2);
}
if (last === undefined) {
  const r = await runSeed(first, events, { echo: true });
  console.log(`seed ${r.seed}: ${r.events} events, ${r.simulatedMs} simulated ms, ${r.acked} acknowledged, ${r.committed} committed, leader epoch ${r.leaderEpoch}: ${r.violation ?? 'ok'}`);
  process.exit(r.violation === undefined ? 0 : 1);
}
let failed = 0;
let eventCount = 0;
let acked = 0;
let elections = 0;
const started = Date.now();
for (let seed = first; seed <= last; seed++) {
  const r = await runSeed(seed, events);
  eventCount += r.events;
  acked += r.acked;
  elections += r.leaderEpoch;
  if (r.violation !== undefined) {
    failed++;
    console.log(`seed ${seed}: ${r.violation}`);
  }
}
console.log(`${last - first + 1} seeds, ${failed} failed, ${eventCount} events, ${acked} acknowledged, ${elections} leader elections; ${Date.now() - started} ms, ${Math.round(process.cpuUsage().user / 1000)} ms of CPU`);
process.exit(failed === 0 ? 0 : 1);
