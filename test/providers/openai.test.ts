import { describe, expect, it } from 'vitest';
import type { ErrorKind } from '../../src/core/error-kinds.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { settingsFor } from '../../src/providers/table.js';
import { describeProviderContract } from './contract.js';
import { collect, intercept, providerErrorFrom, sse, useNock } from './support.js';

const ORIGIN = 'http://openai.test';
const PATH = /^\/v1\/chat\/completions$/;
const KEY = 'sk-proj-SWITCHBOARDtest0000KEY';
const provider = () => createOpenAIProvider(settingsFor('openai', { apiKey: KEY, baseUrl: `${ORIGIN}/v1` }));

const completion = (content: string, finish_reason = 'stop') => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_750_000_000,
  model: 'gpt-4o-mini',
  choices: [
    { index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
});
const chunk = (delta: Record<string, unknown>, finish_reason: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_750_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, delta, logprobs: null, finish_reason }],
});
const openaiError = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, param: null, code },
});

useNock();

describeProviderContract({
  label: 'OpenAI',
  origin: ORIGIN,
  generatePath: PATH,
  model: 'gpt-4o-mini',
  apiKey: KEY,
  create: (baseUrl, apiKey) =>
    createOpenAIProvider(
      settingsFor('openai', { apiKey, baseUrl: baseUrl === ORIGIN ? `${ORIGIN}/v1` : `${baseUrl}/v1` }),
    ),
  okBody: completion('Hello'),
  firstStreamFrames: sse([chunk({ role: 'assistant', content: 'Hel' })]),
  keyEchoReply: (apiKey) => ({
    status: 401,
    body: openaiError(
      `Incorrect API key provided: ${apiKey}. Authorization: Bearer ${apiKey}`,
      'invalid_request_error',
      'invalid_api_key',
    ),
  }),
});

describe('OpenAI adapter', () => {
  it('returns text, token usage and finish reason, sending the persona as a system message', async () => {
    const requests = intercept(ORIGIN, PATH, { status: 200, body: completion('Hello there') });
    const result = await provider().generate({
      model: 'gpt-4o-mini',
      system: 'You are terse.',
      prompt: 'Hi',
    });
    expect(result).toEqual({
      text: 'Hello there',
      usage: { inputTokens: 12, outputTokens: 3 },
      finishReason: 'stop',
      provider: 'openai',
      model: 'gpt-4o-mini',
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(requests[0]!.headers.get('authorization')).toBe(`Bearer ${KEY}`);
  });

  it('sends no system message without a persona, and caps output with max_completion_tokens', async () => {
    const requests = intercept('https://api.openai.com', PATH, {
      status: 200,
      body: completion('ok', 'length'),
    });
    const official = createOpenAIProvider(settingsFor('openai', { apiKey: KEY, baseUrl: undefined }));
    const result = await official.generate({ model: 'o4-mini', prompt: 'Hi', maxOutputTokens: 50 });
    expect(result.finishReason).toBe('length');
    expect(requests[0]!.body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(requests[0]!.body.max_completion_tokens).toBe(50);
  });

  it('streams text deltas, then one done chunk with usage from the include_usage chunk', async () => {
    const body = sse([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({}, 'stop'),
      { ...chunk({}), choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
      '[DONE]',
    ]);
    const requests = intercept(ORIGIN, PATH, { status: 200, body });
    const chunks = await collect(
      provider().stream({ model: 'gpt-4o-mini', system: 'Be brief.', prompt: 'Hi' }),
    );
    expect(chunks).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      {
        type: 'done',
        result: {
          text: 'Hello',
          usage: { inputTokens: 9, outputTokens: 2 },
          finishReason: 'stop',
          provider: 'openai',
          model: 'gpt-4o-mini',
        },
      },
    ]);
    expect(requests[0]!.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user' }],
    });
  });

  it('works against a local OpenAI-compatible server without a key, using max_tokens', async () => {
    const local = createOpenAIProvider(settingsFor('openai', { baseUrl: 'http://localhost:11434/v1' }));
    const requests = intercept('http://localhost:11434', PATH, { status: 200, body: completion('hi') });
    await local.generate({ model: 'llama3.1', prompt: 'Hi', maxOutputTokens: 20 });
    expect(requests[0]!.headers.get('authorization')).toBe('Bearer not-needed');
    expect(requests[0]!.body.max_tokens).toBe(20);
  });

  it('raises content_filter when OpenAI withholds the answer (finish_reason content_filter)', async () => {
    intercept(ORIGIN, PATH, { status: 200, body: completion('', 'content_filter') });
    const error = await providerErrorFrom(provider().generate({ model: 'gpt-4o-mini', prompt: 'Hi' }));
    expect(error).toMatchObject({ kind: 'content_filter', code: 'content_filter', status: undefined });
  });

  it('raises content_filter at the end of a stream whose finish_reason is content_filter', async () => {
    intercept(ORIGIN, PATH, {
      status: 200,
      body: sse([chunk({ content: 'Par' }), chunk({}, 'content_filter'), '[DONE]']),
    });
    const error = await providerErrorFrom(collect(provider().stream({ model: 'gpt-4o-mini', prompt: 'Hi' })));
    expect(error.kind).toBe('content_filter');
  });

  it('maps an error sent before a stream starts, with one request', async () => {
    const requests = intercept(ORIGIN, PATH, {
      status: 429,
      body: openaiError('Rate limit reached for gpt-4o-mini', 'requests', 'rate_limit_exceeded'),
      headers: { 'retry-after': '2' },
    });
    const error = await providerErrorFrom(collect(provider().stream({ model: 'gpt-4o-mini', prompt: 'Hi' })));
    expect(error).toMatchObject({ kind: 'rate_limit', retryAfterMs: 2000 });
    expect(requests).toHaveLength(1);
  });

  const inAMinute = new Date(Date.now() + 60_000).toUTCString();
  // biome-ignore format: one row per case reads as a table
  it.each<[string, ErrorKind, number, Record<string, unknown>, Record<string, string>, string | undefined]>([
    ['429 rate_limit_exceeded', 'rate_limit', 429, openaiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'), { 'retry-after': '7' }, 'rate_limit_exceeded'],
    ['429 with retry-after-ms', 'rate_limit', 429, openaiError('Rate limit reached', 'tokens', 'rate_limit_exceeded'), { 'retry-after-ms': '1500', 'retry-after': '2' }, 'rate_limit_exceeded'],
    ['429 with an HTTP-date retry-after', 'rate_limit', 429, openaiError('Rate limit reached', 'tokens', 'rate_limit_exceeded'), { 'retry-after': inAMinute }, 'rate_limit_exceeded'],
    ['429 insufficient_quota', 'quota', 429, openaiError('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'), {}, 'insufficient_quota'],
    ['429 credit_balance_exhausted', 'quota', 429, openaiError('Your credit balance is exhausted.', 'insufficient_quota', 'credit_balance_exhausted'), {}, 'credit_balance_exhausted'],
    ['429 project spend limit', 'quota', 429, openaiError('Project spend limit exceeded.', 'insufficient_quota', 'project_spend_limit_exceeded'), {}, 'project_spend_limit_exceeded'],
    ['401 invalid_api_key', 'auth', 401, openaiError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'), {}, 'invalid_api_key'],
    ['403 unsupported region', 'auth', 403, openaiError('Country, region, or territory not supported', 'request_forbidden', 'unsupported_country_region_territory'), {}, 'unsupported_country_region_territory'],
    ['400 context_length_exceeded', 'context_length', 400, openaiError("This model's maximum context length is 128000 tokens.", 'invalid_request_error', 'context_length_exceeded'), {}, 'context_length_exceeded'],
    ['400 invalid value', 'invalid_request', 400, openaiError("Invalid value for 'temperature'.", 'invalid_request_error', 'invalid_value'), {}, 'invalid_value'],
    ['404 model_not_found', 'invalid_request', 404, openaiError('The model `gpt-9` does not exist.', 'invalid_request_error', 'model_not_found'), {}, 'model_not_found'],
    ['422 unprocessable', 'invalid_request', 422, openaiError('Unprocessable request', 'invalid_request_error'), {}, 'invalid_request_error'],
    ['500 server_error', 'server', 500, openaiError('The server had an error while processing your request.', 'server_error'), {}, 'server_error'],
    ['503 overloaded engine', 'server', 503, openaiError('The engine is currently overloaded.', 'server_error'), {}, 'server_error'],
  ])('maps %s to kind %s after exactly one request', async (_name, kind, status, body, headers, code) => {
    const requests = intercept(ORIGIN, PATH, { status, body, headers });
    const error = await providerErrorFrom(provider().generate({ model: 'gpt-4o-mini', prompt: 'Hi' }));
    expect(error).toMatchObject({ kind, code, status, provider: 'openai', model: 'gpt-4o-mini' });
    expect(error.message).toBe((body.error as { message: string }).message);
    expect(requests).toHaveLength(1);
    if ('retry-after-ms' in headers) expect(error.retryAfterMs).toBe(1500);
    else if (headers['retry-after'] === '7') expect(error.retryAfterMs).toBe(7000);
    else if (headers['retry-after']) expect(error.retryAfterMs).toBeGreaterThan(55_000);
    else expect(error.retryAfterMs).toBeUndefined();
  });
});
