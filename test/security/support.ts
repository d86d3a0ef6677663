import { anthropicError } from '../support/anthropic-stub.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { InProcessAnswer, LlmCall } from '../support/llm-answers.js';
import { BOT_USER_ID } from '../support/slack-api-stub.js';
import {
  type Harness,
  type HarnessOptions,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  RELEASE_NOTES_YML,
  startHarness,
} from '../support/slack-harness.js';

/**
 * The workspace of the security suite: a private channel, a DM with the bot, an open
 * channel, and people in and out of each. Every test of test/security/ starts one (on the
 * embedded database, or PostgreSQL with TEST_DATABASE_URL) and declares these channels.
 */

/** A private channel: Alice and Bob are in it (and the bot); Eve is not. */
export const SECRET = 'G0SECRET';
/** A private channel whose id starts with C, as newer workspaces give them. */
export const SECRET_C = 'C0SECRET';
/** Alice's direct message with the bot (the stub's `D0<user>` convention). */
export const DM = 'D0U0ALICE';
/** A public channel everyone is in. */
export const OPEN = 'C0RUNS';
/** The workflow's alert channel (release-notes' `notify`). */
export const ALERTS = 'C0ALERTS';

export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
/** In the workspace and in the open channels, not in the private channel nor Alice's DM. */
export const EVE = 'U0EVE';
export const OWNER = 'U0OWNER';
export const ADMIN = 'U0ADMIN';

/** What a private run's input says: none of it may reach someone who is not in its channel. */
export const SECRET_WORDS = 'Initech acquisition at 40M';

/** release-notes (notify C0ALERTS, owner U0OWNER), echo (one OpenAI step) and flaky (one Anthropic step, no notify). */
export const FLAKY_YML = `name: flaky
description: One Anthropic step, no notify channel
provider: anthropic
model: claude-haiku-4-5
owners: [U0OWNER]
steps:
  - name: answer
    prompt: "{{input}}"
`;

export const WORKFLOWS = {
  'personas.yml': PERSONAS_YML,
  'release-notes.yml': RELEASE_NOTES_YML,
  'echo.yml': ONE_STEP_YML,
  'flaky.yml': FLAKY_YML,
};

/** What the providers answer; a test may replace it (`llm.answer = …`) and gets it back after reset. */
export interface Llm {
  answer: (call: LlmCall) => InProcessAnswer | Promise<InProcessAnswer>;
  calls: LlmCall[];
}

/**
 * Anthropic is out of credit (its provider message quotes the prompt, as some providers'
 * messages do, so a leak of it would show); OpenAI answers with the start of its prompt.
 */
export const defaultAnswer = (call: LlmCall): InProcessAnswer =>
  call.provider === 'anthropic'
    ? anthropicError(
        400,
        'invalid_request_error',
        `Your credit balance is too low to access the Anthropic API. Request: ${call.prompt.slice(0, 60)}`,
      )
    : { text: `ok from ${call.model}: ${call.prompt.slice(0, 80)}` };

export async function securityHarness(options: HarnessOptions = {}): Promise<{ h: Harness; llm: Llm }> {
  const h = await startHarness({ workflows: WORKFLOWS, ...options });
  const llm: Llm = { answer: defaultAnswer, calls: [] };
  llm.calls = interceptLlms((call) => llm.answer(call));
  return { h, llm };
}

/** Declares the suite's channels and people (after every reset: the stub forgets declarations). */
export function declareWorkspace(h: Harness): void {
  h.stub.meet(ALICE, BOB, EVE, OWNER, ADMIN);
  h.stub.channel(SECRET, { kind: 'private', members: [ALICE, BOB, BOT_USER_ID] });
  h.stub.channel(SECRET_C, { kind: 'private', members: [ALICE, BOB, BOT_USER_ID] });
  // Bob is not in the alert channel, Eve is: alerts of private runs must not tell her more than it says.
  h.stub.channel(ALERTS, { kind: 'public', members: [OWNER, EVE, ADMIN, BOT_USER_ID] });
}

/** `/workflow <text>` typed by `user` in `channel`; the ephemeral answer's visible text. */
export async function say(h: Harness, text: string, user: string, channel = OPEN): Promise<string> {
  const ack = await h.command(text, { user, channel });
  return visibleText(await h.answer(ack));
}

/** Starts `command` (e.g. `run echo …`) in `channel` and waits until its run is one of `until`. */
export async function runIn(
  h: Harness,
  channel: string,
  command: string,
  options: { user?: string; until?: string[] } = {},
) {
  const p = h.core.db.prisma;
  const before = await p.workflowRun.count();
  await h.command(command, { user: options.user ?? ALICE, channel });
  const run = await waitFor(
    async () =>
      (await p.workflowRun.count()) > before
        ? await p.workflowRun.findFirst({ orderBy: { number: 'desc' } })
        : undefined,
    10_000,
    'the run to start',
  );
  await waitForRun(h.core.db, run.id, options.until ?? ['completed', 'paused']);
  await h.settle();
  return p.workflowRun.findUniqueOrThrow({
    where: { id: run.id },
    include: { steps: { orderBy: { position: 'asc' } } },
  });
}

/** `text` with every `ref` (a run or schedule number) replaced: to compare an answer with a missing one's. */
export function withoutRef(text: string, ref: string | number): string {
  return text.replaceAll(String(ref), '<ref>');
}
