import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretValues } from '../src/config.js';

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('starts with nothing set: embedded database, ./workflows, defaults', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ url: undefined, dataDir: './data' });
    expect(config.workflowsDir).toBe('./workflows');
    expect(config.retry).toEqual({ maxAttempts: 3, baseMs: 1000, maxMs: 30_000 });
    expect(config.slack.port).toBe(3000);
  });

  it('accepts GOOGLE_API_KEY for Gemini, GEMINI_API_KEY winning when both are set', () => {
    expect(loadConfig({ GOOGLE_API_KEY: 'g-key-123' }).providers.google.apiKey).toBe('g-key-123');
    expect(loadConfig({ GOOGLE_API_KEY: 'g1-key', GEMINI_API_KEY: 'g2-key' }).providers.google.apiKey).toBe(
      'g2-key',
    );
  });

  it.each([
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', 'postgresql://'],
    [{ OPENAI_BASE_URL: 'not a url' }, 'OPENAI_BASE_URL', 'full URL'],
    [{ PORT: 'eighty' }, 'PORT', 'whole number'],
    [{ RETRY_MAX_ATTEMPTS: '0' }, 'RETRY_MAX_ATTEMPTS', 'from 1 to 20'],
    [{ SLACK_BOT_TOKEN: 'xoxp-user' }, 'SLACK_BOT_TOKEN', 'xoxb-'],
    [{ SLACK_APP_TOKEN: 'xoxb-wrong' }, 'SLACK_APP_TOKEN', 'xapp-'],
    [{ SLACK_EDIT_POLICY: 'everyone' }, 'SLACK_EDIT_POLICY', 'owners'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'one of'],
    [{ DEFAULT_PROVIDER: 'mistral' }, 'DEFAULT_PROVIDER', ''],
    [{ DEFAULT_MODEL: 'gpt-4o' }, 'DEFAULT_PROVIDER', 'must be set when DEFAULT_MODEL'],
    [{ SLACK_MEMBERSHIP_TTL_SECONDS: '0' }, 'SLACK_MEMBERSHIP_TTL_SECONDS', 'from 1 to 3600'],
    [{ METRICS_TOKEN: 'abc' }, 'METRICS_TOKEN', 'at least 16 characters'],
    [{ MAX_INPUT_BYTES: '0' }, 'MAX_INPUT_BYTES', 'from 1 to 10000000'],
    [{ MAX_OUTPUT_BYTES: '100' }, 'MAX_OUTPUT_BYTES', 'from 1000 to 10000000'],
    [{ MAX_RUNS_IN_FLIGHT_PER_USER: '-1' }, 'MAX_RUNS_IN_FLIGHT_PER_USER', '0 = no limit'],
    [{ FORCED_REDRAWS_PER_USER_PER_MINUTE: 'lots' }, 'FORCED_REDRAWS_PER_USER_PER_MINUTE', 'whole number'],
    [{ SCHEDULE_MIN_INTERVAL_MINUTES: '0' }, 'SCHEDULE_MIN_INTERVAL_MINUTES', 'from 1 to 1440'],
  ])('refuses %o naming the variable and the fix', (env, variable, hint) => {
    const message = problemsOf(env as Record<string, string>);
    expect(message).toContain(`${variable}:`);
    expect(message).toContain(hint);
    expect(message).toContain('README');
  });

  it('limits abuse by default (docs/security.md)', () => {
    const config = loadConfig({});
    expect(config.limits).toEqual({
      maxInputBytes: 100_000,
      maxOutputBytes: 200_000,
      runsInFlightPerUser: 5,
      forcedRedrawsPerUserPerMinute: 6,
    });
    expect(config.schedules.minIntervalMinutes).toBe(5);
    expect(config.slack.membershipTtlMs).toBe(60_000);
    expect(config.ops.metricsToken).toBeUndefined();
  });

  it('lists every problem at once', () => {
    const message = problemsOf({ PORT: 'x', LOG_LEVEL: 'y' });
    expect(message).toContain('PORT:');
    expect(message).toContain('LOG_LEVEL:');
  });

  it('knows its secrets so logs can scrub them', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-secret-1',
      SLACK_BOT_TOKEN: 'xoxb-secret-2',
      SLACK_SIGNING_SECRET: 'sign-secret-3',
    });
    expect(secretValues(config).sort()).toEqual(['sign-secret-3', 'sk-secret-1', 'xoxb-secret-2']);
  });

  it('knows the secrets of named endpoints too, and passwords in provider URLs', () => {
    const config = loadConfig({
      LLM_ENDPOINTS: 'gateway',
      GATEWAY_BASE_URL: 'https://svc:gw-pass-123@llm.internal/v1',
      GATEWAY_API_KEY: 'gw-key-456',
      GATEWAY_MODELS: 'big-model',
    });
    expect(secretValues(config).sort()).toEqual(['gw-key-456', 'gw-pass-123']);
  });
});

describe('named OpenAI-compatible endpoints (LLM_ENDPOINTS)', () => {
  const ollama = {
    LLM_ENDPOINTS: 'ollama, vllm',
    OLLAMA_BASE_URL: 'http://localhost:11434/v1',
    OLLAMA_MODELS: 'llama3.1, qwen2.5',
    VLLM_BASE_URL: 'http://vllm.internal:8000/v1',
    VLLM_API_KEY: 'vllm-key-000',
    VLLM_MODELS: 'meta-llama/Llama-3.1-8B-Instruct',
    VLLM_LABEL: 'vLLM (GPU box)',
  };

  it('reads each endpoint from variables named after it, in the order listed', () => {
    const config = loadConfig(ollama);
    expect(config.endpoints).toEqual([
      {
        id: 'ollama',
        label: 'ollama',
        apiKey: undefined,
        baseUrl: 'http://localhost:11434/v1',
        models: ['llama3.1', 'qwen2.5'],
      },
      {
        id: 'vllm',
        label: 'vLLM (GPU box)',
        apiKey: 'vllm-key-000',
        baseUrl: 'http://vllm.internal:8000/v1',
        models: ['meta-llama/Llama-3.1-8B-Instruct'],
      },
    ]);
    expect(loadConfig({}).endpoints).toEqual([]);
  });

  it('takes an endpoint as the global default', () => {
    expect(loadConfig({ ...ollama, DEFAULT_PROVIDER: 'ollama', DEFAULT_MODEL: 'qwen2.5' }).defaults).toEqual({
      provider: 'ollama',
      model: 'qwen2.5',
    });
    expect(problemsOf({ DEFAULT_PROVIDER: 'ollama' })).toContain(
      'DEFAULT_PROVIDER: must be one of openai, anthropic, google (an endpoint counts once it is in LLM_ENDPOINTS)',
    );
  });

  it.each([
    [
      { LLM_ENDPOINTS: 'ollama', OLLAMA_MODELS: 'llama3.1' },
      'OLLAMA_BASE_URL: is required for the endpoint "ollama" in LLM_ENDPOINTS: its OpenAI-compatible base URL, e.g. http://localhost:11434/v1',
    ],
    [
      { LLM_ENDPOINTS: 'ollama', OLLAMA_BASE_URL: 'localhost:11434', OLLAMA_MODELS: 'llama3.1' },
      'OLLAMA_BASE_URL: must be a full URL such as http://localhost:11434/v1',
    ],
    [
      { LLM_ENDPOINTS: 'ollama', OLLAMA_BASE_URL: 'http://localhost:11434/v1' },
      'OLLAMA_MODELS: is required for the endpoint "ollama": the models it serves, comma-separated, the first the default',
    ],
    [
      { LLM_ENDPOINTS: 'ollama', OLLAMA_BASE_URL: 'http://localhost:11434/v1', OLLAMA_MODELS: 'llama 3' },
      'OLLAMA_MODELS: "llama 3" is not a model name',
    ],
    [
      { LLM_ENDPOINTS: 'openai' },
      'LLM_ENDPOINTS: "openai" is a built-in provider; name the endpoint differently (e.g. openai-proxy), or set OPENAI_BASE_URL',
    ],
    [
      { LLM_ENDPOINTS: 'gemini' },
      'LLM_ENDPOINTS: "gemini" would read GEMINI_API_KEY, which belongs to Google Gemini',
    ],
    [
      { LLM_ENDPOINTS: 'Ollama!' },
      'LLM_ENDPOINTS: "Ollama!" is not a valid endpoint name: use up to 32 lowercase letters, digits and dashes',
    ],
    [
      {
        ...{ OLLAMA_BASE_URL: 'http://localhost:11434/v1', OLLAMA_MODELS: 'llama3.1' },
        LLM_ENDPOINTS: 'ollama,ollama',
      },
      'LLM_ENDPOINTS: "ollama" is listed twice',
    ],
    [{ LLM_ENDPOINTS: 'none' }, 'LLM_ENDPOINTS: "none" is reserved'],
  ])('refuses %o naming the variable and the fix', (env, expected) => {
    const message = problemsOf(env as Record<string, string>);
    expect(message).toContain(expected);
    expect(message).toContain('README');
  });

  it('maps dashes to underscores in the variable names', () => {
    const config = loadConfig({
      LLM_ENDPOINTS: 'my-gateway',
      MY_GATEWAY_BASE_URL: 'https://gw.internal/v1',
      MY_GATEWAY_MODELS: 'gpt-4o-mini',
    });
    expect(config.endpoints.map((e) => [e.id, e.baseUrl])).toEqual([
      ['my-gateway', 'https://gw.internal/v1'],
    ]);
  });
});
