/**
 * Prometheus metrics in the text exposition format (0.0.4), without a client library: a
 * histogram is a handful of counters. Recorded in-process (request and job durations) and
 * read from the store at scrape time (runs by state, jobs queued/running). A neutral module:
 * the API records requests, the runner records jobs, /metrics prints both.
 */
import type { JobResult } from './executors/executor.js';

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram {
  readonly #name: string;
  readonly #help: string;
  readonly #buckets: readonly number[];
  readonly #series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS) {
    this.#name = name;
    this.#help = help;
    this.#buckets = buckets;
  }

  observe(labels: Record<string, string>, seconds: number): void {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { labels, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (const [i, bound] of this.#buckets.entries()) if (seconds <= bound) series.counts[i]++;
    series.sum += seconds;
    series.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.#name} ${this.#help}`, `# TYPE ${this.#name} histogram`];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      for (const [i, bound] of this.#buckets.entries()) lines.push(`${this.#name}_bucket${labelText({ ...labels, le: String(bound) })} ${counts[i]}`);
      lines.push(`${this.#name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.#name}_sum${labelText(labels)} ${sum}`, `${this.#name}_count${labelText(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

/** A gauge family read at scrape time. */
export function renderGauge(name: string, help: string, values: readonly { labels: Record<string, string>; value: number }[]): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...values.map((v) => `${name}${labelText(v.labels)} ${v.value}`)].join('\n');
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

/** The server's in-process metrics: one per server, shared by the API and the runner. */
export class ServerMetrics {
  readonly requestDuration = new Histogram('wes_http_request_duration_seconds', 'HTTP requests by method, route and status class');
  readonly jobDuration = new Histogram('wes_job_duration_seconds', 'Jobs from start to end, by outcome', [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400]);
  readonly #loopDelay = new LoopDelayWatch();

  renderEventLoopDelay(): string {
    return renderGauge('wes_event_loop_delay_max_seconds', 'Longest event-loop delay since the last scrape (0 at the first)', [
      { labels: {}, value: this.#loopDelay.takeMax() / 1000 },
    ]);
  }

  /** For the runner's onJobEnded: a job that never started has no duration. */
  readonly observeJob = (result: JobResult): void => {
    if (result.startedAt === undefined) return;
    this.jobDuration.observe({ outcome: result.outcome.kind }, (result.endedAt.getTime() - result.startedAt.getTime()) / 1000);
  };
}

const WATCH_INTERVAL_MS = 10;

/**
 * How late the event loop ran a 10 ms timer: how long every request and job report waited at
 * worst for the server's one thread (apart from waiting for a core). Started by the first
 * scrape, so a server nobody scrapes pays nothing. Not perf_hooks' monitorEventLoopDelay: after
 * its reset() the first interval is not recorded, so a stall just after a scrape went unseen.
 */
class LoopDelayWatch {
  #last = 0;
  #maxMs = 0;
  #timer: NodeJS.Timeout | undefined;

  /** The longest delay in ms since the previous call. */
  takeMax(): number {
    if (this.#timer === undefined) {
      this.#last = performance.now();
      this.#timer = setInterval(() => this.#tick(), WATCH_INTERVAL_MS).unref();
      return 0;
    }
    // A stall that ended just now, before the timer could run, counts too.
    this.#tick();
    const max = this.#maxMs;
    this.#maxMs = 0;
    return max;
  }

  #tick(): void {
    const now = performance.now();
    this.#maxMs = Math.max(this.#maxMs, now - this.#last - WATCH_INTERVAL_MS);
    this.#last = now;
  }
}
