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
  ])('refuses %o naming the variable and the fix', (env, variable, hint) => {
    const message = problemsOf(env as Record<string, string>);
    expect(message).toContain(`${variable}:`);
    expect(message).toContain(hint);
    expect(message).toContain('README');
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
});
