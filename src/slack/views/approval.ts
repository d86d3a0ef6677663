import type { types } from '@slack/bolt';
import { ACTIONS, CALLBACKS, stepBlockId, stepModalMetadata } from './action-ids.js';
import { actions, type Block, button, context, LIMITS, type ModalView, plain, section } from './blocks.js';
import type { ApprovalView, MessagePayload, RunView, StepView } from './model.js';
import { starterMrkdwn } from './status.js';
import { excerpt, mrkdwn, safeMrkdwn } from './text.js';

/**
 * Approval gates in Slack (docs/control.md), pure: the card's approval block (who may
 * approve, Approve / Edit… / Reject…), the two modals behind Edit… and Reject…, the thread
 * note that tells the approvers, and the escalation posted in the alert channel.
 */

/** Slack's plain_text_input holds at most 3000 characters: a longer output is approved or rejected as it is. */
export const MAX_EDITABLE_OUTPUT = 3000;
export const APPROVAL_INPUT = 'value';

const USERGROUP = /^S[A-Z0-9]{2,}$/;

/** "<@U1>, <!subteam^S1>, the run's starter (<@U2>) or the workflow's owners" (mrkdwn). */
export function approversMrkdwn(a: ApprovalView): string {
  const who = [
    ...a.users.map(starterMrkdwn),
    ...(a.usergroup && USERGROUP.test(a.usergroup) ? [`<!subteam^${a.usergroup}>`] : []),
    ...(a.starter ? [`the run's starter (${starterMrkdwn(a.starter)})`] : []),
    ...(a.owners || a.escalated ? ["the workflow's owners"] : []),
  ];
  if (who.length === 0) return 'Switchboard admins';
  return who.length === 1 ? who[0]! : `${who.slice(0, -1).join(', ')} or ${who.at(-1)}`;
}

/** The card's block while its output awaits approval: who may decide, and the three buttons. */
export function approvalBlocks(step: StepView): Block[] {
  const id = (part: string) => stepBlockId(step.id, step.version, part);
  const a = step.approval;
  const who = a ? approversMrkdwn(a) : 'Switchboard admins';
  const timing = a?.timeoutMinutes
    ? a.escalated
      ? ' The wait outlasted its timeout: the alert channel was told.'
      : ` After ${a.timeoutMinutes} min without a decision it ${a.onTimeout === 'fail' ? 'fails the run' : 'goes to the alert channel'}.`
    : '';
  return [
    section(id('approval'), `:raised_hand: *Waiting for approval* from ${who}.${timing}`),
    actions(id('approve'), [
      button({ actionId: ACTIONS.approve, text: 'Approve', value: step.id, style: 'primary' }),
      button({ actionId: ACTIONS.approveEdit, text: 'Edit…', value: step.id }),
      button({ actionId: ACTIONS.approveReject, text: 'Reject…', value: step.id, style: 'danger' }),
    ]),
  ];
}

function where(step: Pick<StepView, 'position' | 'total' | 'name'>): string {
  return `Step ${step.position + 1}/${step.total} · ${excerpt(step.name, 60)}`;
}

/** Edit…: the output in a text box; saving stores it as the step's output (still awaiting approval). */
export function outputEditModal(
  step: Pick<StepView, 'id' | 'version' | 'position' | 'total' | 'name' | 'output'>,
): ModalView {
  const output = step.output ?? '';
  const blocks: (Block | types.InputBlock)[] = [context('edit-where', [safeMrkdwn(where(step))])];
  const fits = output.length <= MAX_EDITABLE_OUTPUT;
  if (fits) {
    blocks.push({
      type: 'input',
      block_id: 'output',
      label: plain('Output', 2000),
      element: {
        type: 'plain_text_input',
        action_id: APPROVAL_INPUT,
        multiline: true,
        max_length: MAX_EDITABLE_OUTPUT,
        ...(output ? { initial_value: output } : {}),
      },
      hint: plain('Saved as the step’s output, with an audit entry. It still waits for approval.', 2000),
    });
  } else {
    blocks.push(
      section(
        'edit-too-long',
        `The output is ${output.length.toLocaleString('en-US')} characters, more than a Slack text box holds (${MAX_EDITABLE_OUTPUT.toLocaleString('en-US')}). Approve or reject it from the card.`,
      ),
    );
  }
  return {
    type: 'modal',
    callback_id: CALLBACKS.approvalEdit,
    private_metadata: stepModalMetadata({ stepId: step.id, version: step.version }),
    title: plain('Edit output', LIMITS.modalTitle),
    ...(fits ? { submit: plain('Save', LIMITS.modalTitle) } : {}),
    close: plain(fits ? 'Cancel' : 'Close', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

/** Reject…: why, in a few words; the step then pauses with its menus for a retry. */
export function rejectModal(
  step: Pick<StepView, 'id' | 'version' | 'position' | 'total' | 'name'>,
): ModalView {
  const blocks: (Block | types.InputBlock)[] = [
    context('reject-where', [safeMrkdwn(where(step))]),
    {
      type: 'input',
      block_id: 'reason',
      label: plain('Why is it rejected?', 2000),
      element: {
        type: 'plain_text_input',
        action_id: APPROVAL_INPUT,
        multiline: true,
        max_length: 500,
        placeholder: plain('Too long; the changelog items are missing', 150),
      },
      hint: plain(
        'Shown on the card. The step pauses: switch its model or persona if that helps, then Retry.',
        2000,
      ),
    },
  ];
  return {
    type: 'modal',
    callback_id: CALLBACKS.approvalReject,
    private_metadata: stepModalMetadata({ stepId: step.id, version: step.version }),
    title: plain('Reject output', LIMITS.modalTitle),
    submit: plain('Reject', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

/** The thread note that tells the approvers (a mention: they are told where the output is). */
export function approvalRequestNote(
  run: Pick<RunView, 'number' | 'workflowName'>,
  step: StepView,
): MessagePayload {
  const who = step.approval ? approversMrkdwn(step.approval) : 'Switchboard admins';
  const text = `:raised_hand: ${who}: *${safeMrkdwn(where(step))}* of ${safeMrkdwn(excerpt(run.workflowName, 80))} run #${run.number} waits for your approval. *Approve*, *Edit…* or *Reject…* it on its card above.`;
  return {
    text: mrkdwn(`${where(step)} of run #${run.number} waits for approval`, LIMITS.fallbackText),
    blocks: [section(stepBlockId(step.id, step.version, 'ask'), text)],
  };
}

/** A decision, said in the thread: "<@U1> approved step 2/3 draft." */
export function decisionNote(
  step: StepView,
  actor: string,
  decision: 'approved' | 'rejected' | 'edited',
  reason?: string,
): MessagePayload {
  const what = `${starterMrkdwn(actor)} ${decision} the output of *${safeMrkdwn(where(step))}*`;
  const why = reason ? `: ${mrkdwn(excerpt(reason, 300), 900)}` : '.';
  return {
    text: mrkdwn(`${where(step)}: ${decision}`, LIMITS.fallbackText),
    blocks: [section(stepBlockId(step.id, step.version, `decided-${decision}`), `${what}${why}`)],
  };
}

/**
 * The escalation in the alert channel when nobody approved in time (on_timeout: escalate):
 * where the step is, who was asked, and a link to the thread — never the output itself,
 * which stays in the run's channel. The workflow's owners may approve from then on.
 */
export function escalationMessage(input: {
  run: Pick<RunView, 'number' | 'workflowName'>;
  step: StepView;
  owners: readonly string[];
  /** threadLink() of the run's thread, or ''. */
  link: string;
}): MessagePayload {
  const { run, step } = input;
  const asked = step.approval ? approversMrkdwn({ ...step.approval, escalated: false }) : 'nobody';
  const owners = input.owners.length > 0 ? ` ${input.owners.slice(0, 10).map(starterMrkdwn).join(' ')}` : '';
  const lines = [
    `:alarm_clock: *${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number}: *${safeMrkdwn(where(step))}* has waited more than ${step.approval?.timeoutMinutes ?? '?'} min for approval from ${asked}.`,
    `The workflow's owners may now approve it too.${owners}`,
  ];
  const blocks: Block[] = [section(stepBlockId(step.id, step.version, 'escalated'), lines.join('\n'))];
  if (input.link) blocks.push(context(stepBlockId(step.id, step.version, 'escalated-link'), [input.link]));
  return {
    text: mrkdwn(`Run #${run.number} ${where(step)} waits for approval`, LIMITS.fallbackText),
    blocks,
  };
}
