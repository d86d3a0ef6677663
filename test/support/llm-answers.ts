import { Readable } from 'node:stream';
/**
 * The words every HTTP provider fake speaks: what a test has a fake provider answer
 * (`LlmAnswer`) and what a call looked like (`LlmCall`). `interceptLlms` (nock, in the
 * test's own process; slack-harness.ts) and the local servers (openai-stub.ts,
 * anthropic-stub.ts: for bots in other processes, and for the bench) take the same answers
 * and build the same wire bodies, so a test moves from one to the other unchanged: a server
 * stub's `reply` gets the `LlmCall` in its second argument.
 *
 * The engine's own fake, `ScriptedProvider` (engine.ts), sits below the SDKs and speaks
 * the product's `ProviderError` instead.
 *
 * Loaded by bench/ too: it imports nothing of the test runner's.
 */

export type LlmProviderId = 'openai' | 'anthropic';

export interface LlmCall {
  provider: LlmProviderId;
  model: string;
  system: string | undefined;
  prompt: string;
  at: number;
}

/**
 * A 200 carrying `text`, or an HTTP error with the provider's error body (see
 * `anthropicError`, `anthropicBilling`), either after `delayMs`; or, from a server stub
 * only, no answer at all until the client gives up ('hang').
 */
export type LlmAnswer =
  | ({ text: string; delayMs?: number } & StreamShape)
  | { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  | 'hang';

/**
 * How an answer is streamed when the request asked for a stream (`stream: true`, as the bot
 * does with LIVE_OUTPUT on): `chunks` are the text deltas (default: the text in one piece),
 * `pace(i)` resolves before delta i > 0 is sent (a gate the test opens, or a token rate),
 * and `cut` breaks the stream after the deltas with the provider's mid-stream error event
 * (an overload half-way through an answer) instead of finishing it.
 */
export interface StreamShape {
  chunks?: string[];
  pace?: (index: number) => Promise<void>;
  cut?: { type: string; message: string };
}

/** A provider's SSE frames for a streamed answer: one per delta, then the end or the cut. */
export interface StreamFrames {
  head: string[];
  delta: (text: string) => string;
  tail: string[];
  cut: (error: { type: string; message: string }) => string;
}

/** The answers nock can give in process (a hung response is the server stubs' to give). */
export type InProcessAnswer = Exclude<LlmAnswer, 'hang'>;

/** An HTTP response as the fakes send it. */
export interface LlmResponse {
  status: number;
  /** JSON, or the SSE body of a streamed answer (a Readable). */
  body: unknown;
  headers: Record<string, string>;
}

/**
 * The response an answer stands for, once its delay has passed: its error as given, or a
 * 200 whose body `ok` builds from its text in the provider's wire format.
 */
export async function responseFor(
  answer: InProcessAnswer,
  ok: (text: string) => unknown,
  stream?: StreamFrames,
): Promise<LlmResponse> {
  if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
  const headers = { 'content-type': 'application/json' };
  if ('status' in answer)
    return { status: answer.status, body: answer.body, headers: { ...headers, ...answer.headers } };
  if (!stream) return { status: 200, body: ok(answer.text), headers };
  const pieces = answer.chunks ?? [answer.text];
  const { pace, cut } = answer;
  async function* frames() {
    for (const frame of stream!.head) yield frame;
    for (const [i, piece] of pieces.entries()) {
      if (i > 0 && pace) await pace(i);
      yield stream!.delta(piece);
    }
    if (cut) yield stream!.cut(cut);
    else for (const frame of stream!.tail) yield frame;
  }
  return {
    status: 200,
    body: Readable.from(frames()),
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
  };
}

/** Whether a provider request asked for a streamed answer. */
export const wantsStream = (body: unknown): boolean => (body as { stream?: unknown })?.stream === true;
