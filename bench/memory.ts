/**
 * Peak memory over a phase: a baseline taken when idle (after a full GC when the process
 * runs with --expose-gc), then samples every `everyMs` until stopped.
 */
export interface MemorySample {
  rss: number;
  heapUsed: number;
}

export interface MemoryFigures {
  baselineRss: number;
  peakRss: number;
  baselineHeap: number;
  peakHeap: number;
}

/** What a process holds after a full GC: idle, and while `activeRuns` runs are in flight. */
export interface RetainedFigures {
  idle: MemorySample;
  busy: MemorySample;
  activeRuns: number;
}

export class MemorySampler {
  private base: MemorySample = { rss: 0, heapUsed: 0 };
  private peak: MemorySample = { rss: 0, heapUsed: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => MemorySample | Promise<MemorySample | undefined>,
    private readonly everyMs = 100,
  ) {}

  async baseline(): Promise<void> {
    (globalThis as { gc?: () => void }).gc?.();
    this.base = (await this.read()) ?? this.base;
    this.peak = { ...this.base };
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample() {
    const now = await this.read();
    if (!now) return;
    this.peak.rss = Math.max(this.peak.rss, now.rss);
    this.peak.heapUsed = Math.max(this.peak.heapUsed, now.heapUsed);
  }

  stop(): MemoryFigures {
    clearInterval(this.timer);
    return {
      baselineRss: this.base.rss,
      peakRss: this.peak.rss,
      baselineHeap: this.base.heapUsed,
      peakHeap: this.peak.heapUsed,
    };
  }
}
