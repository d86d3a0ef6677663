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
  | { text: string; delayMs?: number }
  | { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number }
  | 'hang';

/** The answers nock can give in process (a hung response is the server stubs' to give). */
export type InProcessAnswer = Exclude<LlmAnswer, 'hang'>;

/** An HTTP response as the fakes send it. */
export interface LlmResponse {
  status: number;
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
): Promise<LlmResponse> {
  if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
  const headers = { 'content-type': 'application/json' };
  if ('status' in answer)
    return { status: answer.status, body: answer.body, headers: { ...headers, ...answer.headers } };
  return { status: 200, body: ok(answer.text), headers };
}
