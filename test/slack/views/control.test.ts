import { describe, expect, it } from 'vitest';
import {
  ACTIONS,
  approvalRequestNote,
  budgetEditorModal,
  CALLBACKS,
  escalationMessage,
  failureAlert,
  KEEP_VALUE,
  outputEditModal,
  parseRerunBlock,
  parseStepModalMetadata,
  rejectModal,
  rerunBlock,
  rerunLinkNote,
  rerunModal,
  runParentMessage,
  stepCard,
} from '../../../src/slack/views/index.js';
import { blockErrors } from '../../../src/slack/workflow-editor.js';
import { expectValidMessage, expectValidModal, findByType, visibleText } from '../../support/block-kit.js';
import { aCompletedStep, aPausedStep, aRun, aStep, BARE_BROADCAST, HOSTILE, someMenus } from './factories.js';

/** The views of team control (docs/control.md): valid Block Kit, and what a person sees. */

const gate = {
  users: ['U0BOB'],
  usergroup: 'S0REVIEW',
  starter: null,
  owners: false,
  timeoutMinutes: 30,
  onTimeout: 'escalate' as const,
  escalated: false,
};
const ids = (payload: unknown) => findByType(payload, 'button').map((b) => b.action_id);

describe('a card awaiting approval', () => {
  it('shows the output, who may decide, and Approve / Edit… / Reject… — no menus', () => {
    const card = stepCard(
      aStep({
        status: 'awaiting_approval',
        output: 'Draft notes',
        approval: gate,
        cost: { usd: 0.0021, unpriced: 0 },
      }),
      someMenus(),
    );
    expectValidMessage(card);
    expect(visibleText(card)).toContain('Draft notes');
    expect(visibleText(card)).toContain('Waiting for approval* from <@U0BOB> or <!subteam^S0REVIEW>');
    expect(visibleText(card)).toContain('After 30 min without a decision it goes to the alert channel.');
    expect(visibleText(card)).toContain('$0.0021');
    expect(ids(card)).toEqual([ACTIONS.approve, ACTIONS.approveEdit, ACTIONS.approveReject]);
    expect(findByType(card, 'static_select')).toEqual([]);
  });

  it('a rejected step pauses with the reason, escaped, and its menus and Retry', () => {
    const card = stepCard(
      aPausedStep({
        lastError: { kind: 'rejected', message: HOSTILE, provider: 'openai', model: 'gpt-4o-mini' },
      }),
      someMenus(),
    );
    expectValidMessage(card);
    expect(visibleText(card)).toContain('Output rejected');
    expect(visibleText(card)).not.toMatch(BARE_BROADCAST);
    expect(ids(card)).toContain(ACTIONS.retry);
  });

  it('a finished run’s card offers Re-run from here…; a reused step says where its output came from', () => {
    const card = stepCard(aCompletedStep({ rerunnable: true, reusedFrom: 41 }), someMenus());
    expectValidMessage(card);
    expect(ids(card)).toContain(ACTIONS.rerun);
    expect(visibleText(card)).toContain('reused from run #41 · no provider call');
    expect(ids(stepCard(aCompletedStep(), someMenus()))).not.toContain(ACTIONS.rerun);
  });

  it('an unknown price reads as unknown, never as $0', () => {
    const text = visibleText(stepCard(aCompletedStep({ cost: { usd: 0, unpriced: 1 } }), someMenus()));
    expect(text).toContain('cost unknown');
    expect(text).not.toContain('$0.00');
  });
});

describe('the approval modals and notes', () => {
  const step = aStep({ status: 'awaiting_approval', output: `${HOSTILE}\nsecond line`, approval: gate });

  it('Edit… holds the output in a text box; a longer output cannot be edited here', () => {
    const modal = outputEditModal(step);
    expectValidModal(modal);
    expect(modal.callback_id).toBe(CALLBACKS.approvalEdit);
    expect(parseStepModalMetadata(modal.private_metadata)).toEqual({
      stepId: step.id,
      version: step.version,
    });
    const long = outputEditModal({ ...step, output: 'x'.repeat(3001) });
    expectValidModal(long);
    expect(findByType(long, 'input')).toEqual([]);
    expect(long.submit).toBeUndefined();
    expect(visibleText(long)).toContain('3,001 characters');
  });

  it('Reject… asks why; metadata is parsed strictly', () => {
    const modal = rejectModal(step);
    expectValidModal(modal);
    expect(findByType(modal, 'input').map((b) => b.block_id)).toEqual(['reason']);
    for (const bad of ['', 'nope', '{"s":"a b","v":1}', '{"s":"a","v":-1}', '{"s":"a"}'])
      expect(parseStepModalMetadata(bad)).toBeUndefined();
  });

  it('the approvers are mentioned in the thread; the escalation carries no output', () => {
    const note = approvalRequestNote(aRun(), step);
    expectValidMessage(note);
    expect(visibleText(note)).toContain('<@U0BOB> or <!subteam^S0REVIEW>: *Step');
    const escalation = escalationMessage({ run: aRun(), step, owners: ['U0OWNER'], link: '' });
    expectValidMessage(escalation);
    expect(visibleText(escalation)).toContain('has waited more than 30 min for approval from <@U0BOB>');
    expect(visibleText(escalation)).toContain('<@U0OWNER>');
    expect(visibleText(escalation)).not.toContain('second line');
  });
});

describe('re-run views', () => {
  const input = {
    run: { number: 41, workflowName: 'release-notes' },
    from: { id: 'step3', version: 4, position: 2, total: 4 },
    steps: [
      {
        position: 2,
        name: 'three',
        prompt: 'Three: {{previous.output}}',
        provider: 'openai',
        model: 'gpt-4o-mini',
        personaName: 'tech-writer',
      },
      {
        position: 3,
        name: 'four',
        prompt: 'y'.repeat(3001),
        provider: 'openai',
        model: 'gpt-4o-mini',
        personaName: null,
      },
    ],
    providers: someMenus().providers,
    personas: someMenus().personas,
    workflowPersona: 'tech-writer',
  };

  it('the modal offers each step from N on, "As before" by default; an over-long prompt is kept as it is', () => {
    const modal = rerunModal(input);
    expectValidModal(modal);
    expect(modal.title.text).toBe('Re-run from step 3');
    expect(findByType(modal, 'input').map((b) => b.block_id)).toEqual([
      rerunBlock(2, 'model'),
      rerunBlock(2, 'persona'),
      rerunBlock(2, 'prompt'),
      rerunBlock(3, 'model'),
      rerunBlock(3, 'persona'),
    ]);
    expect(JSON.stringify(modal)).toContain(`"value":"${KEEP_VALUE}"`);
    expect(visibleText(modal)).toContain('Steps 1–2 reuse its outputs (no provider calls)');
    expect(visibleText(modal)).toContain(
      '3,001 characters, more than a Slack text box holds; it runs as before',
    );
    expect(parseRerunBlock('s12-prompt')).toEqual({ position: 12, field: 'prompt' });
    expect(parseRerunBlock('s1-output')).toBeUndefined();
  });

  it('the old thread’s note links to the new run', () => {
    const note = rerunLinkNote({
      oldRun: { id: 'run41', version: 9 },
      newRun: { number: 43 },
      fromStep: 3,
      actor: 'U0ALICE',
      permalink: 'https://test.slack.com/archives/C0RUNS/p1',
    });
    expectValidMessage(note);
    expect(visibleText(note)).toContain('<@U0ALICE> re-ran this from step 3 as *run #43*');
    expect(visibleText(note)).toContain('|Open run #43>');
  });

  it('the parent message says what it re-runs, its tokens, cost and cap', () => {
    const parent = runParentMessage(
      aRun({
        rerunOf: { number: 41, fromStep: 3 },
        usage: { inputTokens: 3000, outputTokens: 500, cost: { usd: 0.0042, unpriced: 0 } },
        budgetUsd: 0.5,
      }),
    );
    expectValidMessage(parent);
    const text = visibleText(parent);
    expect(text).toContain('Re-run of #41 from step 3');
    expect(text).toContain('3,000 in / 500 out tokens · $0.0042');
    expect(text).toContain('cap $0.50');
    // Awaiting approval: the parent offers only Cancel.
    expect(ids(runParentMessage(aRun({ status: 'awaiting_approval' })))).toEqual([ACTIONS.runCancel]);
  });
});

describe('budget views', () => {
  it('the budget alert offers cheaper models and a raised cap, which keeps its place', () => {
    const step = aPausedStep({
      lastError: {
        kind: 'over_run_budget',
        message: "This run's cap is $0.01: $0.0002 spent.",
        provider: 'openai',
        model: 'gpt-4o',
      },
    });
    const alternatives = Array.from({ length: 6 }, (_, i) => ({ provider: 'openai', model: `m${i}` }));
    const alert = failureAlert({ run: aRun(), step, alternatives, raiseCapTo: 0.02 });
    expectValidMessage(alert);
    const labels = findByType(alert, 'button').map((b) => (b.text as { text: string }).text);
    expect(labels).toEqual([
      'Retry with openai/m0',
      'Retry with openai/m1',
      'Retry with openai/m2',
      'Retry with openai/m3',
      "Raise this run's cap to $0.02",
    ]);
    expect(visibleText(alert)).toContain('it could cross this run’s budget');
  });

  it('the budget editor holds two amounts', () => {
    const modal = budgetEditorModal({ workflow: 'w', version: 3, budget: { perRunUsd: 0.5 } });
    expectValidModal(modal);
    expect(findByType(modal, 'input').map((b) => b.block_id)).toEqual(['per_run_usd', 'per_day_usd']);
    expect(JSON.stringify(modal)).toContain('"initial_value":"0.5"');
  });

  it('maps a problem inside a step’s approval onto its own input', () => {
    const blocks = new Set(['name', 'prompt', 'approval', 'approval_timeout', 'approval_on_timeout']);
    expect(
      blockErrors(
        [
          { path: ['steps', 1, 'approval'], message: 'names no approver' },
          { path: ['steps', 1, 'approval', 'timeout_minutes'], message: 'must be a whole number' },
          { path: ['steps', 1, 'approval', 'on_timeout'], message: 'must be fail or escalate' },
        ],
        1,
        blocks,
        'name',
      ),
    ).toEqual({
      approval: 'names no approver',
      approval_timeout: 'must be a whole number',
      approval_on_timeout: 'must be fail or escalate',
    });
  });
});
