/**
 * The tcp-rr central's loop (rr-central-main.ts) without the wire, for the peer centrals
 * (NATS, MQTT): `inFlight` requests outstanding per device, a slot re-sent as soon as it is
 * answered, round trips and latency counted inside the window, the same bounds (request cap,
 * drain deadline). The wire calls `answered` per response and `endOfRead` after each read.
 */
import type { CentralArgs, CentralResult } from './rr-central-main.js';
import { Reservoir, quantile } from './stats.js';

const DRAIN_MS = 10_000;

export class RrLoop {
  readonly #a: CentralArgs;
  readonly #send: (obj: number, slot: number) => void;
  readonly #flush: () => void;
  readonly #sentAt: Float64Array;
  readonly #lat = new Reservoir();
  #sent = 0;
  #outstanding = 0;
  #completed = 0;
  #errors = 0;
  #latSum = 0;
  #measureStart = 0;
  #measureEnd = 0;
  #cpu0: NodeJS.CpuUsage = { user: 0, system: 0 };
  #finish: (() => void) | undefined;
  /** The time of the current read: one clock reading per read, as in rr-central-main. */
  now = 0;

  constructor(a: CentralArgs, send: (obj: number, slot: number) => void, flush: () => void) {
    this.#a = a;
    this.#send = send;
    this.#flush = flush;
    this.#sentAt = new Float64Array(a.objects * a.inFlight);
  }

  /** Sends every slot, then resolves when the window is over and drained (or the drain deadline passed). */
  run(): Promise<CentralResult> {
    this.#cpu0 = process.cpuUsage();
    this.now = performance.now();
    this.#measureStart = this.now + this.#a.warmupMs;
    this.#measureEnd = this.#measureStart + this.#a.measureMs;
    return new Promise((resolve) => {
      let done = false;
      this.#finish = () => {
        if (done) return;
        done = true;
        clearInterval(tick);
        const cpu = process.cpuUsage(this.#cpu0);
        const v = this.#lat.values;
        resolve({
          type: 'result', completed: this.#completed, perSec: this.#completed / (this.#a.measureMs / 1000), p50: quantile(v, 0.5), p99: quantile(v, 0.99),
          mean: this.#completed ? this.#latSum / this.#completed : NaN, errors: this.#errors, sent: this.#sent, outstandingAtEnd: this.#outstanding,
          cpuMicros: cpu.user + cpu.system,
        });
      };
      // The time bound holds even if no answer ever comes back.
      const tick = setInterval(() => {
        const t = performance.now();
        if ((t >= this.#measureEnd && this.#outstanding === 0) || t >= this.#measureEnd + DRAIN_MS) this.#finish!();
      }, 50);
      for (let obj = 0; obj < this.#a.objects; obj++) for (let s = 0; s < this.#a.inFlight; s++) this.#request(obj, s);
      this.#flush();
    });
  }

  /** One response for `obj`'s `slot`; `ok` false counts as an error (a wrong echo). */
  answered(obj: number, slot: number, ok: boolean): void {
    this.#outstanding--;
    if (!ok) this.#errors++;
    const now = this.now;
    if (now >= this.#measureStart && now <= this.#measureEnd) {
      const ms = now - this.#sentAt[obj * this.#a.inFlight + slot]!;
      this.#completed++;
      this.#latSum += ms;
      this.#lat.add(ms);
    }
    if (now < this.#measureEnd && this.#sent < this.#a.maxRequests) this.#request(obj, slot);
  }

  endOfRead(): void {
    this.#flush();
    // Done at the window's end, or once a bounded load (maxRequests) is all answered (fixed-rr).
    if (this.#outstanding === 0 && (this.now >= this.#measureEnd || this.#sent >= this.#a.maxRequests)) this.#finish?.();
  }

  #request(obj: number, slot: number): void {
    this.#sentAt[obj * this.#a.inFlight + slot] = this.now;
    this.#send(obj, slot);
    this.#sent++;
    this.#outstanding++;
  }
}

export { DRAIN_MS };
