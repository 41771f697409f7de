/**
 * The simulated network between the controller (node 0, standing for etcd and the broker
 * that holds the controller duties), the brokers and the producer.
 *
 * - Every message gets its own delay (a few ms, sometimes a spike of up to `spikeMs`), so
 *   messages between different pairs, and requests of different kinds, arrive in any order.
 * - A message is dropped at random (`dropRate`), on a cut link (a network partition, one-way
 *   or both ways), or when either end restarted while it was in flight: a TCP connection
 *   belongs to one incarnation of each end, and a crash loses what was on it.
 * - A paused node (a long GC pause, SIGSTOP) runs nothing until it resumes: messages to it
 *   and its own timers wait (inProcess), then run, on state that may have gone stale.
 * - The watch stream (controller -> broker metadata) is the exception: etcd's watch is one
 *   ordered stream that resumes from its revision after a reconnection, so it is neither
 *   dropped nor reordered; while cut it holds back, and the broker catches up when the link
 *   heals (Simulation.resync).
 */
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

export interface NetworkConfig {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Chance that a message is late by up to spikeMs (reordering it behind later ones). */
  readonly spikeRate: number;
  readonly spikeMs: number;
  readonly dropRate: number;
}

export class Network {
  private readonly cut = new Set<string>();
  private readonly incarnations = new Map<number, number>();
  private readonly up = new Set<number>();
  /** Paused processes (a long GC or a SIGSTOP): until when. */
  private readonly paused = new Map<number, number>();
  /** Watch streams: when the last message on each link is delivered (FIFO). */
  private readonly orderedUntil = new Map<string, number>();

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Prng,
    private readonly config: NetworkConfig,
    private readonly trace: (line: string) => void,
  ) {}

  nodeUp(id: number): void {
    this.up.add(id);
    this.incarnations.set(id, (this.incarnations.get(id) ?? 0) + 1);
  }

  nodeDown(id: number): void {
    this.up.delete(id);
    this.paused.delete(id);
    this.incarnations.set(id, (this.incarnations.get(id) ?? 0) + 1);
  }

  pause(id: number, untilMs: number): void {
    this.paused.set(id, untilMs);
  }

  /** When a paused node resumes; 0 when it runs. */
  pausedUntil(id: number): number {
    const until = this.paused.get(id) ?? 0;
    return until > this.sched.now() ? until : 0;
  }

  /**
   * Runs `run` in node `id`'s process after `delayMs`: later if the process is paused then
   * (its timers and its inbox wait; nothing runs in a stopped process).
   */
  inProcess(id: number, delayMs: number, label: string, run: () => void | Promise<void>): void {
    const attempt = (): void | Promise<void> => {
      const until = this.pausedUntil(id);
      if (until > 0) {
        this.sched.after(until - this.sched.now(), label, attempt);
        return;
      }
      return run();
    };
    this.sched.after(delayMs, label, attempt);
  }

  isUp(id: number): boolean {
    return this.up.has(id);
  }

  incarnation(id: number): number {
    return this.incarnations.get(id) ?? 0;
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
  }

  healAll(): void {
    this.cut.clear();
  }

  isCut(from: number, to: number): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  get cutLinks(): string[] {
    return [...this.cut].sort();
  }

  /** Sends a message; `deliver` runs at the receiver unless it is lost on the way. */
  send(from: number, to: number, label: string, deliver: () => void | Promise<void>): void {
    const incFrom = this.incarnation(from);
    const incTo = this.incarnation(to);
    if (!this.up.has(from) || this.isCut(from, to)) return;
    if (this.rng.chance(this.config.dropRate)) {
      this.trace(`drop ${label} ${from}->${to}`);
      return;
    }
    let delayMs = this.rng.between(this.config.minDelayMs, this.config.maxDelayMs);
    if (this.rng.chance(this.config.spikeRate)) delayMs += this.rng.int(this.config.spikeMs);
    this.sched.after(delayMs, `${label} ${from}->${to}`, () => {
      if (!this.up.has(to) || this.incarnation(from) !== incFrom || this.incarnation(to) !== incTo || this.isCut(from, to)) return;
      // A paused receiver takes the message when it resumes (TCP buffered it).
      const until = this.pausedUntil(to);
      if (until === 0) return deliver();
      this.inProcess(to, until - this.sched.now(), `${label} ${from}->${to} (after pause)`, () => {
        if (this.up.has(to) && this.incarnation(to) === incTo) return deliver();
      });
    });
  }

  /** A watch-stream message: in order, never dropped at random; held back (not sent) while the link is cut. */
  sendOrdered(from: number, to: number, label: string, deliver: () => void): boolean {
    if (!this.up.has(from) || !this.up.has(to) || this.isCut(from, to)) return false;
    const incTo = this.incarnation(to);
    const key = `${from}>${to}`;
    const atMs = Math.max(this.orderedUntil.get(key) ?? 0, this.sched.now() + this.rng.between(this.config.minDelayMs, this.config.maxDelayMs * 3));
    this.orderedUntil.set(key, atMs);
    this.inProcess(to, atMs - this.sched.now(), `${label} ${from}->${to}`, () => {
      if (!this.up.has(to) || this.incarnation(to) !== incTo) return;
      deliver();
    });
    return true;
  }
}
