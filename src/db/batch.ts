/**
 * Combines the writes asked for in one turn of the event loop into one database statement.
 * When many runs move at once (their provider calls answered together), their step writes
 * go out as one statement instead of one round trip each: the process spends its CPU on a
 * few large statements, not on hundreds of small ones. A lone write waits for no one: it
 * goes out at the end of the current turn (setImmediate).
 */
export class Batcher<I, O> {
  private pending: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    /** Writes every input in one statement; answers one output per input, in order. */
    private readonly flush: (inputs: I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.drain());
    });
  }

  private drain(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += this.maxBatch) {
      const batch = all.slice(i, i + this.maxBatch);
      this.flush(batch.map((b) => b.input)).then(
        (outputs) => {
          for (const [j, b] of batch.entries()) b.resolve(outputs[j]!);
        },
        (error: unknown) => {
          for (const b of batch) b.reject(error);
        },
      );
    }
  }
}
