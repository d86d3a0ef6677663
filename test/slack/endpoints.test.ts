import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN } from '../../src/slack/views/index.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import { findElement } from '../support/slack-requests.js';

/**
 * A named endpoint (LLM_ENDPOINTS) is a provider like the built-ins wherever Slack shows
 * providers: the card's model menu, the alert's "Retry with …", `/workflow health`.
 */

const DRAFT_YML = `name: draft
steps:
  - name: write
    prompt: "{{input}}"
    provider: anthropic
    model: claude-haiku-4-5
`;

describe('a named endpoint in Slack', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      workflows: { 'personas.yml': PERSONAS_YML, 'draft.yml': DRAFT_YML },
      env: {
        LLM_ENDPOINTS: 'ollama',
        OLLAMA_BASE_URL: 'http://ollama.test:11434/v1',
        OLLAMA_MODELS: 'llama3.1,qwen2.5',
        OLLAMA_LABEL: 'Ollama (lab)',
      },
    });
    interceptLlms((call) => (call.provider === 'anthropic' ? anthropicBilling() : { text: 'ok' }));
  });

  afterAll(async () => {
    await h?.close();
  });

  it('is offered in the card menu, in "Retry with …" and in /workflow health, with its label', async () => {
    await h.command('run draft notes');
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'draft' } }),
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    const [card] = (await h.thread(run.id)).cards;
    const menu = findElement(card!, ACTIONS.selectModel)!.element as {
      option_groups: { label: { text: string }; options: { value: string }[] }[];
    };
    expect(menu.option_groups.map((g) => g.label.text)).toEqual(['OpenAI', 'Anthropic', 'Ollama (lab)']);
    expect(menu.option_groups[2]!.options.map((o) => o.value)).toEqual(['ollama/llama3.1', 'ollama/qwen2.5']);

    const alert = h.stub.messagesIn('C0TEAM')[0]!;
    expect(findElement(alert, ALERT_RETRY_WITH_PATTERN)).toBeDefined();
    expect(visibleText(alert)).toContain('Retry with ollama/llama3.1');

    const health = visibleText(await h.answer(await h.command('health')));
    expect(health).toContain('Ollama (lab)');
    h.expectAllPayloadsValid();
  });
});
