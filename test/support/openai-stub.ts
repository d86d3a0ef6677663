import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { type LlmAnswer, type LlmCall, responseFor, type StreamFrames, wantsStream } from './llm-answers.js';

/**
 * A local OpenAI-compatible server (POST /v1/chat/completions), for tests that run the bot
 * in another process where nock cannot reach, and for the bench (`fixedLatency`). Answers
 * in the real wire format (no streaming: the bot does not stream).
 *
 * Loaded by bench/ too: it imports nothing of the test runner's.
 */
export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
}

export type StubReply = LlmAnswer;

export interface OpenAIStub {
  baseUrl: string;
  requests: ChatRequest[];
  reply: (request: ChatRequest, meta: StubMeta) => StubReply;
  /** Requests being answered right now, by prompt (until the response ends or the client goes). */
  inflight: Map<string, number>;
  /** Prompts that were in flight twice at the same moment (a step executed twice at once). */
  overlaps: string[];
  /** Prompts answered with a 200, with how many times each was. */
  answered: Map<string, number>;
  /** How many 200 answers went to requests whose path starts with `prefix`. */
  answeredFrom(prefix: string): number;
  /** Requests in flight whose path starts with `prefix` (e.g. "/a/" for one process). */
  inflightFrom(prefix: string): number;
  /** Of those, the ones being held without an answer ('hang'). */
  hangingFrom(prefix: string): number;
  close(): Promise<void>;
}

/** Where a request came in: tests give each process its own base URL (…/a/v1, …/b/v1). */
export interface StubMeta {
  path: string;
  /** The request as `interceptLlms` shows it. */
  call: LlmCall;
}

export async function startOpenAIStub(
  reply: (request: ChatRequest, meta: StubMeta) => StubReply,
): Promise<OpenAIStub> {
  const requests: ChatRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const live = new Set<{ path: string; hung: boolean }>();
  const answeredPaths: string[] = [];
  const stub: OpenAIStub = {
    baseUrl: '',
    requests,
    reply,
    inflight: new Map(),
    overlaps: [],
    answered: new Map(),
    inflightFrom: (prefix) => [...live].filter((r) => r.path.startsWith(prefix)).length,
    hangingFrom: (prefix) => [...live].filter((r) => r.hung && r.path.startsWith(prefix)).length,
    answeredFrom: (prefix) => answeredPaths.filter((path) => path.startsWith(prefix)).length,
    close: async () => {},
  };
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
    requests.push(body);
    const prompt = promptOf(body);
    const now = stub.inflight.get(prompt) ?? 0;
    if (now > 0) stub.overlaps.push(prompt);
    stub.inflight.set(prompt, now + 1);
    const entry = { path: req.url, hung: false };
    live.add(entry);
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      live.delete(entry);
      const left = (stub.inflight.get(prompt) ?? 1) - 1;
      if (left > 0) stub.inflight.set(prompt, left);
      else stub.inflight.delete(prompt);
    };
    res.on('finish', finished);
    res.on('close', finished);
    const answer = stub.reply(body, { path: req.url, call: openaiCall(body) });
    if (answer === 'hang') {
      entry.hung = true;
      hanging.add(res);
      return;
    }
    const response = await responseFor(
      answer,
      (text) => chatCompletion(body.model, text, requests.length),
      wantsStream(body) ? chatCompletionFrames(body.model, requests.length) : undefined,
    );
    if (res.destroyed) return;
    if ('text' in answer) {
      stub.answered.set(prompt, (stub.answered.get(prompt) ?? 0) + 1);
      answeredPaths.push(req.url);
    }
    res.writeHead(response.status, response.headers);
    if (response.body instanceof Readable) response.body.pipe(res);
    else res.end(JSON.stringify(response.body));
  });
  // Idle connections stay open 30 s, not Node's 5: the bot's clients reuse them between the
  // bench's bursts instead of reconnecting.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  stub.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return stub;
}

/** The user message of a chat request (our prompts are one user message). */
export const promptOf = (request: ChatRequest) =>
  request.messages.find((m) => m.role === 'user')?.content ?? '';
export const systemOf = (request: ChatRequest) => request.messages.find((m) => m.role === 'system')?.content;

/** A chat request as `interceptLlms` and the stub's `reply` see it. */
export const openaiCall = (request: ChatRequest): LlmCall => ({
  provider: 'openai',
  model: request.model,
  system: systemOf(request),
  prompt: promptOf(request),
  at: Date.now(),
});

/** The body of a 200 to POST /v1/chat/completions: `text` from `model`, the `n`th completion. */
export function chatCompletion(model: string, text: string, n: number) {
  return {
    id: `chatcmpl-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  };
}

/**
 * A streamed completion's SSE frames (stream: true with include_usage): a role chunk, one
 * chunk per delta, the finish chunk, the usage chunk, [DONE]; a cut is an `error` frame,
 * which the SDK throws as an APIError without a status (a mid-stream failure).
 */
export function chatCompletionFrames(model: string, n: number): StreamFrames {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra = {}) =>
    `data: ${JSON.stringify({
      id: `chatcmpl-${n}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...extra,
    })}\n\n`;
  return {
    head: [chunk({ role: 'assistant', content: '' })],
    delta: (text) => chunk({ content: text }),
    tail: [
      chunk({}, 'stop'),
      `data: ${JSON.stringify({ id: `chatcmpl-${n}`, object: 'chat.completion.chunk', created: 0, model, choices: [], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } })}\n\n`,
      'data: [DONE]\n\n',
    ],
    cut: (error) => `data: ${JSON.stringify({ error: { message: error.message, type: error.type } })}\n\n`,
  };
}

/**
 * A 200 to a chat request as nock returns it ([status, body, headers]): the completion as
 * JSON, or as SSE when the request asked for a stream.
 */
export function completionReply(
  request: ChatRequest,
  text: string,
  n: number,
): [number, unknown, Record<string, string>] {
  if (request.stream !== true)
    return [200, chatCompletion(request.model, text, n), { 'content-type': 'application/json' }];
  const frames = chatCompletionFrames(request.model, n);
  return [
    200,
    [...frames.head, frames.delta(text), ...frames.tail].join(''),
    { 'content-type': 'text/event-stream' },
  ];
}

/** A prompt that contains this is refused by `fixedLatency`. */
export const FAIL_MARK = '[bench-fail]';

/**
 * The bench's provider: every answer after exactly `latencyMs`, `ok: <the prompt's start>`;
 * a prompt that contains FAIL_MARK is refused with a 400 (invalid_request: not retried),
 * which pauses its step, so the bench has a card whose menus it can click.
 */
export function fixedLatency(latencyMs: number): (request: ChatRequest) => StubReply {
  return (request) => {
    const prompt = promptOf(request);
    if (prompt.includes(FAIL_MARK)) {
      const error = { message: 'bench: refused', type: 'invalid_request_error' };
      return { status: 400, body: { error }, delayMs: latencyMs };
    }
    return { text: `ok: ${prompt.slice(0, 40)}`, delayMs: latencyMs };
  };
}
