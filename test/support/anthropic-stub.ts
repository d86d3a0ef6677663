import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import {
  type InProcessAnswer,
  type LlmAnswer,
  type LlmCall,
  responseFor,
  type StreamFrames,
  wantsStream,
} from './llm-answers.js';

/**
 * A local Anthropic Messages API (POST /v1/messages) in the real wire format, for fault
 * tests that run many concurrent calls: the SDK talks to it as to api.anthropic.com.
 */
export interface MessagesRequest {
  model: string;
  system?: string;
  messages: { role: string; content: string | { type: string; text: string }[] }[];
}

export type AnthropicReply = LlmAnswer;

export interface AnthropicStub {
  baseUrl: string;
  requests: MessagesRequest[];
  reply: (request: MessagesRequest, meta: { call: LlmCall }) => AnthropicReply;
  /** Prompts answered with a 200, and how many times each was. */
  answered: Map<string, number>;
  close(): Promise<void>;
}

export const anthropicPromptOf = (request: MessagesRequest): string => {
  const content = request.messages.find((m) => m.role === 'user')?.content ?? '';
  return typeof content === 'string' ? content : content.map((c) => c.text).join('');
};

/** A Messages request as `interceptLlms` and the stub's `reply` see it. */
export const anthropicCall = (request: MessagesRequest): LlmCall => ({
  provider: 'anthropic',
  model: request.model,
  system: request.system,
  prompt: anthropicPromptOf(request),
  at: Date.now(),
});

/** The body of a 200 to POST /v1/messages: `text` from `model`, the `n`th message. */
export function anthropicMessage(model: string, text: string, n: number) {
  return {
    id: `msg_${n}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 11, output_tokens: 6 },
  };
}

/**
 * A streamed message's SSE frames: message_start, a text block with one delta per piece,
 * message_delta with the stop reason and usage, message_stop; a cut is an `error` event
 * (Anthropic's mid-stream overload: `overloaded_error`).
 */
export function anthropicMessageFrames(model: string, n: number): StreamFrames {
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return {
    head: [
      event('message_start', {
        message: {
          id: `msg_${n}`,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 11, output_tokens: 1 },
        },
      }),
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ],
    delta: (text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
    tail: [
      event('content_block_stop', { index: 0 }),
      event('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 6 },
      }),
      event('message_stop', {}),
    ],
    cut: (error) => event('error', { error: { type: error.type, message: error.message } }),
  };
}

/** An error as Anthropic answers it: HTTP `status` with `{ type: 'error', error: { type, message } }`. */
export function anthropicError(
  status: number,
  type: string,
  message: string,
  extra: { headers?: Record<string, string>; requestId?: string } = {},
): InProcessAnswer {
  const body = { type: 'error', error: { type, message }, request_id: extra.requestId };
  return { status, body, ...(extra.headers ? { headers: extra.headers } : {}) };
}

/** Anthropic's answer to an account out of credit: a 400 the bot must not retry. */
export const anthropicBilling = (): InProcessAnswer =>
  anthropicError(
    400,
    'invalid_request_error',
    'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
    { requestId: 'req_011CbillingTest' },
  );

export async function startAnthropicStub(
  reply: (request: MessagesRequest, meta: { call: LlmCall }) => AnthropicReply,
): Promise<AnthropicStub> {
  const hanging = new Set<ServerResponse>();
  const stub: AnthropicStub = {
    baseUrl: '',
    requests: [],
    reply,
    answered: new Map(),
    close: async () => {},
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/v1/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as MessagesRequest;
    stub.requests.push(body);
    const answer = stub.reply(body, { call: anthropicCall(body) });
    if (answer === 'hang') {
      hanging.add(res);
      return;
    }
    const response = await responseFor(
      answer,
      (text) => anthropicMessage(body.model, text, stub.requests.length),
      wantsStream(body) ? anthropicMessageFrames(body.model, stub.requests.length) : undefined,
    );
    if (res.destroyed) return;
    if ('text' in answer) {
      const prompt = anthropicPromptOf(body);
      stub.answered.set(prompt, (stub.answered.get(prompt) ?? 0) + 1);
    }
    res.writeHead(response.status, response.headers);
    if (response.body instanceof Readable) response.body.pipe(res);
    else res.end(JSON.stringify(response.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return stub;
}
