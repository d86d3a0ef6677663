import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Anthropic Messages API (POST /v1/messages) in the real wire format, for fault
 * tests that run many concurrent calls: the SDK talks to it as to api.anthropic.com.
 */
export interface MessagesRequest {
  model: string;
  system?: string;
  messages: { role: string; content: string | { type: string; text: string }[] }[];
}

export type AnthropicReply =
  | { text: string; delayMs?: number }
  | { status: number; type: string; message: string; headers?: Record<string, string> };

export interface AnthropicStub {
  baseUrl: string;
  requests: MessagesRequest[];
  reply: (request: MessagesRequest) => AnthropicReply;
  /** Prompts answered with a 200, and how many times each was. */
  answered: Map<string, number>;
  close(): Promise<void>;
}

export const anthropicPromptOf = (request: MessagesRequest): string => {
  const content = request.messages.find((m) => m.role === 'user')?.content ?? '';
  return typeof content === 'string' ? content : content.map((c) => c.text).join('');
};

export async function startAnthropicStub(
  reply: (request: MessagesRequest) => AnthropicReply,
): Promise<AnthropicStub> {
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
    const answer = stub.reply(body);
    if ('status' in answer) {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify({ type: 'error', error: { type: answer.type, message: answer.message } }));
      return;
    }
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (res.destroyed) return;
    const prompt = anthropicPromptOf(body);
    stub.answered.set(prompt, (stub.answered.get(prompt) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `msg_${stub.requests.length}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text: answer.text }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 11, output_tokens: 6 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return stub;
}
