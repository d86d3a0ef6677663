import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible server (POST /v1/chat/completions) with a fixed latency, so the
 * bot's real OpenAI adapter (the `openai` SDK over HTTP) runs against it. A prompt that
 * contains FAIL_MARK is refused with a 400 (invalid_request: not retried), which pauses its
 * step — the bench clicks that card's menus.
 */

export const FAIL_MARK = '[bench-fail]';

export interface OpenAIStandin {
  baseUrl: string;
  requests(): number;
  close(): Promise<void>;
}

export async function startOpenAIStandin(latencyMs: number): Promise<OpenAIStandin> {
  let requests = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    requests++;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      model: string;
      messages: { role: string; content: string }[];
    };
    const prompt = body.messages.at(-1)?.content ?? '';
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (prompt.includes(FAIL_MARK)) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bench: refused', type: 'invalid_request_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${requests}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: `ok: ${prompt.slice(0, 40)}` },
            finish_reason: 'stop',
          },
        ],
        usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
      }),
    );
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
