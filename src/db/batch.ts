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
    /**
     * True for a failure that one input may have caused (a value the database refuses): the
     * batch is then written again one input at a time, so only that input's write fails and
     * the others, innocent, are saved. A failure of the connection fails them all, to be
     * retried by their callers.
     */
    private readonly isolate: (error: unknown) => boolean = () => false,
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
      this.write(all.slice(i, i + this.maxBatch));
    }
  }

  private write(batch: typeof this.pending): void {
    this.flush(batch.map((b) => b.input)).then(
      (outputs) => {
        for (const [j, b] of batch.entries()) b.resolve(outputs[j]!);
      },
      (error: unknown) => {
        if (batch.length > 1 && this.isolate(error)) {
          for (const b of batch) this.write([b]);
          return;
        }
        for (const b of batch) b.reject(error);
      },
    );
  }
}
