import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { type Provider, ProviderError } from '../../src/core/provider-spec.js';
import { buildCatalogue } from '../../src/providers/catalogue.js';
import { createProviders, ProviderNotConfiguredError, providersOf } from '../../src/providers/registry.js';
import { PROVIDER_TABLE } from '../../src/providers/table.js';

const config = (env: Record<string, string> = {}): Config => loadConfig(env);

describe('model catalogue', () => {
  it('offers only providers with credentials, in menu order', () => {
    expect(buildCatalogue(config()).providers).toEqual([]);
    expect(
      buildCatalogue(config({ GEMINI_API_KEY: 'AIza-x', ANTHROPIC_API_KEY: 'sk-ant-x' })).providers,
    ).toEqual(['anthropic', 'google']);
    expect(buildCatalogue(config({ GOOGLE_API_KEY: 'AIza-x' })).providers).toEqual(['google']);
  });

  it('offers OpenAI with only a base URL, for local OpenAI-compatible servers', () => {
    expect(buildCatalogue(config({ OPENAI_BASE_URL: 'http://localhost:11434/v1' })).providers).toEqual([
      'openai',
    ]);
  });

  it('lists current models with the first as the default', () => {
    const catalogue = buildCatalogue(config());
    expect(catalogue.models('openai')).toEqual([
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1',
      'gpt-4.1-mini',
      'o4-mini',
    ]);
    expect(catalogue.defaultModel('anthropic')).toBe('claude-haiku-4-5');
    expect(catalogue.defaultModel('google')).toBe('gemini-2.5-flash');
    expect(catalogue.has('google', 'gemini-2.5-pro')).toBe(true);
    expect(catalogue.has('google', 'gpt-4o')).toBe(false);
  });

  it('replaces a provider’s list with OPENAI_MODELS and friends, leaving the others alone', () => {
    const catalogue = buildCatalogue(
      config({ OPENAI_MODELS: 'llama3.1, qwen2.5', OPENAI_BASE_URL: 'http://localhost:11434/v1' }),
    );
    expect(catalogue.models('openai')).toEqual(['llama3.1', 'qwen2.5']);
    expect(catalogue.defaultModel('openai')).toBe('llama3.1');
    expect(catalogue.models('anthropic')).toContain('claude-sonnet-4-5');
  });

  it('still knows the built-in models when a list is replaced, so workflow files naming them load', () => {
    const catalogue = buildCatalogue(config({ OPENAI_MODELS: 'llama3.1' }));
    expect(catalogue.knownModels('openai')).toEqual([
      'llama3.1',
      'gpt-4o-mini',
      'gpt-4o',
      'gpt-4.1',
      'gpt-4.1-mini',
      'o4-mini',
    ]);
    expect(catalogue.has('openai', 'llama3.1')).toBe(true);
    expect(catalogue.has('openai', 'gpt-4o')).toBe(true);
    expect(catalogue.has('openai', 'claude-haiku-4-5')).toBe(false);
  });

  it('infers the provider from a model’s family, or from the admin’s own lists', () => {
    const catalogue = buildCatalogue(config({ OPENAI_MODELS: 'llama3.1,claude-via-gateway' }));
    expect(catalogue.inferProvider('gpt-4.1')).toBe('openai');
    expect(catalogue.inferProvider('o3-mini')).toBe('openai');
    expect(catalogue.inferProvider('o1')).toBe('openai');
    expect(catalogue.inferProvider('chatgpt-4o-latest')).toBe('openai');
    expect(catalogue.inferProvider('claude-opus-4-1')).toBe('anthropic');
    expect(catalogue.inferProvider('gemini-2.5-flash-lite')).toBe('google');
    expect(catalogue.inferProvider('llama3.1')).toBe('openai');
    expect(catalogue.inferProvider('claude-via-gateway')).toBe('openai');
    expect(catalogue.inferProvider('mistral-large')).toBeUndefined();
    expect(catalogue.inferProvider('omni-model')).toBeUndefined();
  });

  it('has a human label for every provider', () => {
    expect(
      Object.fromEntries(Object.entries(PROVIDER_TABLE).map(([id, entry]) => [id, entry.label])),
    ).toEqual({
      openai: 'OpenAI',
      anthropic: 'Anthropic',
      google: 'Google Gemini',
    });
  });
});

describe('named endpoints in the catalogue', () => {
  const endpoints = {
    OPENAI_API_KEY: 'sk-x',
    LLM_ENDPOINTS: 'ollama,openrouter',
    OLLAMA_BASE_URL: 'http://localhost:11434/v1',
    OLLAMA_MODELS: 'llama3.1,qwen2.5',
    OPENROUTER_BASE_URL: 'https://openrouter.ai/api/v1',
    OPENROUTER_API_KEY: 'sk-or-x',
    OPENROUTER_MODELS: 'meta-llama/llama-3.1-70b-instruct,qwen2.5',
    OPENROUTER_LABEL: 'OpenRouter',
  };

  it('offers every endpoint after the built-ins, each with its label and its own models', () => {
    const catalogue = buildCatalogue(config(endpoints));
    expect(catalogue.providers).toEqual(['openai', 'ollama', 'openrouter']);
    expect(catalogue.knownProviders).toEqual(['openai', 'anthropic', 'google', 'ollama', 'openrouter']);
    expect(catalogue.label('openrouter')).toBe('OpenRouter');
    expect(catalogue.label('ollama')).toBe('ollama');
    expect(catalogue.label('openai')).toBe('OpenAI');
    expect(catalogue.models('ollama')).toEqual(['llama3.1', 'qwen2.5']);
    expect(catalogue.defaultModel('openrouter')).toBe('meta-llama/llama-3.1-70b-instruct');
    expect(catalogue.has('ollama', 'gpt-4o')).toBe(false);
    expect(catalogue.knownModels('vllm')).toEqual([]);
  });

  it('infers the endpoint of a model only its list names; one two lists name is ambiguous', () => {
    const catalogue = buildCatalogue(config(endpoints));
    expect(catalogue.inferProvider('llama3.1')).toBe('ollama');
    expect(catalogue.inferProvider('qwen2.5')).toBeUndefined();
    expect(catalogue.inferProvider('gpt-4o')).toBe('openai');
  });

  it('builds an OpenAI-compatible adapter per endpoint, side by side with OpenAI', () => {
    const registry = createProviders(config(endpoints));
    expect(registry.configured()).toEqual(['openai', 'ollama', 'openrouter']);
    expect(registry.get('openrouter')).toMatchObject({ id: 'openrouter', label: 'OpenRouter' });
    expect(registry.get('openai')).toMatchObject({ id: 'openai', label: 'OpenAI' });
  });

  it('says how to add an endpoint a stored run names but the configuration no longer has', () => {
    const registry = createProviders(config({ OPENAI_API_KEY: 'sk-x' }));
    expect(registry.notConfigured({ provider: 'ollama', model: 'llama3.1' }).message).toBe(
      'ollama is not configured: set LLM_ENDPOINTS (add ollama) with OLLAMA_BASE_URL and OLLAMA_MODELS and restart Switchboard.',
    );
  });
});

describe('provider registry', () => {
  it('builds adapters only for configured providers', () => {
    const registry = createProviders(
      config({ ANTHROPIC_API_KEY: 'sk-ant-x', OPENAI_BASE_URL: 'http://localhost:11434/v1' }),
    );
    expect(registry.configured()).toEqual(['openai', 'anthropic']);
    expect(registry.get('anthropic')).toMatchObject({ id: 'anthropic', label: 'Anthropic' });
    expect(registry.get('google')).toBeUndefined();
  });

  it('names the provider and the variable to set when asked for an unconfigured one', () => {
    const registry = createProviders(config({ OPENAI_API_KEY: 'sk-x' }));
    expect(registry.get('google')).toBeUndefined();
    const caught = registry.notConfigured({ provider: 'google', model: 'gemini-2.5-flash' });
    expect(caught).toBeInstanceOf(ProviderNotConfiguredError);
    expect(caught).toBeInstanceOf(ProviderError);
    expect(caught).toMatchObject({
      kind: 'auth',
      code: 'not_configured',
      provider: 'google',
      envVar: 'GEMINI_API_KEY',
    });
    expect((caught as Error).message).toBe(
      'Google Gemini is not configured: set GEMINI_API_KEY and restart Switchboard.',
    );
  });

  it('accepts injected adapters, so tests and the engine can use a fake', async () => {
    const fake: Provider = {
      id: 'anthropic',
      label: 'Fake Anthropic',
      generate: async (request) => ({
        text: `echo ${request.prompt}`,
        usage: { inputTokens: 1, outputTokens: 1 },
        finishReason: 'stop',
        provider: 'anthropic',
        model: request.model,
      }),
      stream: async function* () {},
    };
    const registry = providersOf([fake]);
    expect(registry.configured()).toEqual(['anthropic']);
    await expect(registry.get('anthropic')!.generate({ model: 'm', prompt: 'hi' })).resolves.toMatchObject({
      text: 'echo hi',
    });
    expect(registry.get('openai')).toBeUndefined();
    expect(registry.notConfigured({ provider: 'openai', model: 'gpt-4o' }).message).toMatch(/OPENAI_API_KEY/);
  });
});
