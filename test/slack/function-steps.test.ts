import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_WORKFLOW_FUNCTION, workflowFunctionId } from '../../src/slack/function-manifest.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import {
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  startHarness,
} from '../support/slack-harness.js';
import type { SlackMode } from '../support/slack-transport.js';

/**
 * Workflows as Workflow Builder steps (issue 14): a `function_executed` event runs the
 * workflow; the step waits, through a pause, until the run ends; Slack is told with
 * functions.completeSuccess (the final output and a link to the run) or
 * functions.completeError (the reason), with the event's own token. Through the Web API
 * stand-in, both ways Slack reaches the bot.
 */

const DRAFT_YML = `name: draft
description: Drafts with Anthropic
steps:
  - name: write
    prompt: "{{input}}"
    provider: anthropic
    model: claude-haiku-4-5
`;

const GATED_YML = `name: payroll
runners: [U0BOB]
steps:
  - name: answer
    prompt: "{{input}}"
    provider: openai
    model: gpt-4o-mini
`;

const WORKFLOWS = {
  'personas.yml': PERSONAS_YML,
  'echo.yml': ONE_STEP_YML,
  'draft.yml': DRAFT_YML,
  'payroll.yml': GATED_YML,
};

/** The complete call Slack got for an execution, once there is one. */
function completion(h: Harness, executionId: string) {
  return waitFor(
    () =>
      [...h.stub.callsOf('functions.completeSuccess'), ...h.stub.callsOf('functions.completeError')].find(
        (c) => c.body.function_execution_id === executionId,
      ),
    10_000,
    `the step ${executionId} to be completed`,
  );
}

function completeCalls(h: Harness) {
  return [...h.stub.callsOf('functions.completeSuccess'), ...h.stub.callsOf('functions.completeError')];
}

describe.each<[SlackMode]>([['http'], ['socket']])('workflows as Workflow Builder steps (%s)', (mode) => {
  let h: Harness;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({ mode, workflows: WORKFLOWS, env: { SLACK_FUNCTION_TIMEOUT_MINUTES: '30' } });
    llm = interceptLlms((call) =>
      call.provider === 'anthropic' ? anthropicBilling() : { text: `echo: ${call.prompt}` },
    );
  });

  afterEach(async () => {
    await h.reset();
    llm.length = 0;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('runs the workflow and calls completeSuccess with its output and run link, with the event’s token', async () => {
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, {
      workflow: 'echo',
      input: 'hello from Workflow Builder',
      channel_id: 'C0RUNS',
    });
    expect(step.status).toBe(200);
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeSuccess');
    expect(call.token).toBe(step.token);
    const run = await h.core.db.prisma.workflowRun.findFirstOrThrow({ where: { workflowName: 'echo' } });
    expect(run).toMatchObject({ status: 'completed', trigger: 'workflow_step', channelId: 'C0RUNS' });
    expect(call.body.outputs).toEqual({
      output: 'echo: hello from Workflow Builder',
      run_link: `https://test.slack.com/archives/C0RUNS/p${run.threadTs!.replace('.', '')}`,
    });
    expect(h.stub.functionExecutions.get(step.executionId)?.state).toBe('completed');
    await h.settle();
    const parent = h.stub.messages.get(`C0RUNS:${run.threadTs}`)!;
    expect(visibleText(parent)).toContain('Started by a Slack workflow from Workflow Builder');
    h.expectAllPayloadsValid();
  });

  it('keeps the step waiting while the run is paused, and reports completeError when it is cancelled', async () => {
    const step = await h.functionExecuted(workflowFunctionId('draft'), {
      input: 'notes',
      channel_id: 'C0RUNS',
    });
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'draft' } }),
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    expect(completeCalls(h)).toEqual([]);
    expect(h.stub.functionExecutions.get(step.executionId)?.state).toBe('running');

    await h.command(`cancel ${run.number}`, { user: 'U0ADMIN' });
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeError');
    expect(call.token).toBe(step.token);
    expect(call.body.error).toBe(`Run #${run.number} of draft was cancelled.`);
    expect(h.stub.functionExecutions.get(step.executionId)).toMatchObject({ state: 'failed' });
  });

  it('reports completeError with the reason when the run fails', async () => {
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, { workflow: 'draft', input: 'notes' });
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'draft' } }),
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    // As an unattended run is failed after its pause timeout (src/schedules/pause-timeout.ts).
    const [paused] = await h.core.stores.runs.steps(run.id);
    await h.core.stores.runs.moveRun(run.id, 'failed', {
      from: ['paused'],
      actor: 'test',
      data: { reason: 'Paused for 30 min with nobody acting' },
    });
    await h.core.stores.runs.moveStep(paused!, 'failed', { from: ['paused'], actor: 'test' });
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeError');
    expect(call.body.error).toMatch(
      new RegExp(`^Run #${run.number} of draft failed: Paused for 30 min with nobody acting`),
    );
  });

  it('stops a run that outlasts SLACK_FUNCTION_TIMEOUT_MINUTES and reports the timeout', async () => {
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, { workflow: 'draft', input: 'notes' });
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'draft' } }),
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.slack.functionSteps.sweep();
    expect(completeCalls(h)).toEqual([]);
    // Thirty-one minutes later, as the sweep sees it.
    const started = (await h.core.stores.functions.get(step.executionId))!.createdAt;
    await h.core.db.prisma.functionExecution.update({
      where: { id: step.executionId },
      data: { createdAt: new Date(started.getTime() - 31 * 60_000) },
    });
    await h.slack.functionSteps.sweep();
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeError');
    expect(call.body.error).toBe(
      `Run #${run.number} did not finish within 30 minutes (SLACK_FUNCTION_TIMEOUT_MINUTES), so it was stopped.`,
    );
    await waitForRun(h.core.db, run.id, ['cancelled']);
    await h.settle();
    // Told once: the cancellation that followed did not call Slack again.
    expect(completeCalls(h)).toHaveLength(1);
  });
});

describe('Workflow Builder steps: bad input and delivery (http)', () => {
  let h: Harness;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({ workflows: WORKFLOWS });
    llm = interceptLlms((call) =>
      call.provider === 'anthropic' ? anthropicBilling() : { text: `echo: ${call.prompt}` },
    );
  });

  afterEach(async () => {
    await h.reset();
    llm.length = 0;
  });

  afterAll(async () => {
    await h?.close();
  });

  it.each([
    [RUN_WORKFLOW_FUNCTION, { input: 'x' }, 'Say which workflow to run: the step’s Workflow input is empty.'],
    [RUN_WORKFLOW_FUNCTION, { workflow: 'nope', input: 'x' }, 'There is no Switchboard workflow named nope.'],
    [workflowFunctionId('gone'), { input: 'x' }, 'There is no Switchboard workflow named gone.'],
    [RUN_WORKFLOW_FUNCTION, { workflow: 'echo', input: 42 }, 'The Input must be text.'],
    [
      RUN_WORKFLOW_FUNCTION,
      { workflow: 'echo', channel_id: '#general' },
      '“Post the run in” must be a channel.',
    ],
    [
      RUN_WORKFLOW_FUNCTION,
      { workflow: 'payroll', input: 'x' },
      'The Switchboard workflow payroll may be run only by the people its file lists: set the step’s “Run for” to the person who used this workflow.',
    ],
    [
      RUN_WORKFLOW_FUNCTION,
      { workflow: 'payroll', input: 'x', user_id: 'U0ALICE' },
      'That person may not run the Switchboard workflow payroll.',
    ],
    ['run_something_else', { input: 'x' }, 'This step (run_something_else) names no Switchboard workflow.'],
  ])('%s with %o fails the step at once, starting nothing', async (callback, inputs, error) => {
    const step = await h.functionExecuted(callback, inputs);
    expect(step.status).toBe(200);
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeError');
    expect(call.token).toBe(step.token);
    expect(String(call.body.error)).toContain(error);
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('fails the step of a disabled workflow', async () => {
    await h.core.db.prisma.workflow.update({ where: { name: 'echo' }, data: { enabled: false } });
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, { workflow: 'echo', input: 'x' });
    const call = await completion(h, step.executionId);
    expect(call.body.error).toBe('The Switchboard workflow echo is disabled (its file was removed).');
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('runs a gated workflow for a person it lists', async () => {
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, {
      workflow: 'payroll',
      input: 'x',
      user_id: 'U0BOB',
    });
    const call = await completion(h, step.executionId);
    expect(call.method).toBe('functions.completeSuccess');
    expect(await h.core.db.prisma.workflowRun.findFirst()).toMatchObject({ startedBy: 'U0BOB' });
  });

  it('an event delivered twice starts one run and completes the step once', async () => {
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, { workflow: 'echo', input: 'once' });
    await completion(h, step.executionId);
    const { functionExecutedEvent } = await import('../support/slack-requests.js');
    await h.event(
      functionExecutedEvent({
        callbackId: RUN_WORKFLOW_FUNCTION,
        executionId: step.executionId,
        token: step.token,
        inputs: { workflow: 'echo', input: 'once' },
      }),
    );
    await h.settle();
    expect(await h.core.db.prisma.workflowRun.count()).toBe(1);
    expect(h.stub.callsOf('functions.completeSuccess')).toHaveLength(1);
    expect(llm).toHaveLength(1);
  });

  it('tells Slack later when it could not at first (Slack down), and only once', async () => {
    h.stub.override('functions.completeSuccess', { kind: 'status', status: 503 }, 4);
    const step = await h.functionExecuted(RUN_WORKFLOW_FUNCTION, { workflow: 'echo', input: 'later' });
    await waitFor(() => h.stub.callsOf('functions.completeSuccess').length === 4, 15_000, 'four tries');
    await h.settle();
    expect(h.stub.functionExecutions.get(step.executionId)?.state).toBe('running');
    expect((await h.core.stores.functions.get(step.executionId))?.outcome).toBeNull();
    await h.slack.functionSteps.sweep();
    expect(h.stub.functionExecutions.get(step.executionId)?.state).toBe('completed');
    await h.slack.functionSteps.sweep();
    expect(h.stub.callsOf('functions.completeSuccess')).toHaveLength(5);
  });
});
