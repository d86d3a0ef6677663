import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/engine/engine-error.js';
import { startSchedules } from '../../src/schedules/start.js';
import { manualCron } from '../schedules/support.js';
import { visibleText } from '../support/block-kit.js';
import { TestClock } from '../support/clock.js';
import { waitFor } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ADMIN,
  BOB,
  declareWorkspace,
  EVE,
  OWNER,
  SECRET,
  SECRET_WORDS,
  say,
  securityHarness,
  WORKFLOWS,
  withoutRef,
} from './support.js';

/**
 * Promise: a schedule is seen by the members of the channel it posts in (it shows that
 * channel and its input), in lists, on Home and in exports; someone else asking about it
 * by number gets the answer a missing one gets. A schedule made in Slack fires at most every
 * SCHEDULE_MIN_INTERVAL_MINUTES; only owners and admins add one. What a channel is told
 * about a schedule cannot ping, broadcast or link.
 */

/** A workflow file with a schedule posting in the private channel. */
const DIGEST_YML = `name: digest
description: Daily digest
owners: [U0OWNER]
provider: openai
model: gpt-4o-mini
steps:
  - name: summarize
    prompt: "Summarize: {{input}}"
schedules:
  - cron: "0 9 * * 1-5"
    channel: ${SECRET}
    input: "${SECRET_WORDS}"
`;

let h: Harness;

beforeAll(async () => {
  ({ h } = await securityHarness({ workflows: { ...WORKFLOWS, 'digest.yml': DIGEST_YML } }));
});

beforeEach(async () => {
  await h.reset();
  declareWorkspace(h);
});

afterAll(async () => {
  await h?.close();
});

describe('schedules in a private channel', () => {
  it('are listed to its members only, and answered as missing to others', async () => {
    const added = await say(h, `schedule add release-notes "0 9 * * 1-5" ${SECRET_WORDS}`, OWNER, SECRET);
    expect(added).toContain('Added');
    const number = Number(/#(\d+)/.exec(added)![1]);

    const eve = await say(h, 'schedule list', EVE);
    expect(eve).not.toContain(SECRET_WORDS);
    expect(eve).not.toContain(`#${number}`);
    const bob = await say(h, 'schedule list', BOB);
    expect(bob).toContain(SECRET_WORDS);

    for (const action of ['pause', 'resume', 'remove']) {
      const missing = await say(h, `schedule ${action} 9999`, EVE);
      expect(withoutRef(await say(h, `schedule ${action} ${number}`, EVE), number)).toBe(
        withoutRef(missing, 9999),
      );
    }
    // Bob sees it; under the owners policy he may not change it. The owner, not in the
    // channel, does not see it either (acting requires seeing); an admin does.
    expect(await say(h, `schedule pause ${number}`, BOB)).toContain("You can't pause schedules");
    expect(await say(h, `schedule pause ${number}`, OWNER)).toContain('No schedule');
    expect(await say(h, `schedule pause ${number}`, ADMIN)).toContain('Paused');
  });

  it('are left out of an export for someone who is not in the channel', async () => {
    const eve = await say(h, 'export digest', EVE);
    expect(eve).not.toContain(SECRET_WORDS);
    expect(eve).not.toContain(SECRET);
    expect(eve).toContain('1 schedule posting in channels you are not in is left out');
    const bob = await say(h, 'export digest', BOB);
    expect(bob).toContain(SECRET_WORDS);
    expect(bob).toContain(SECRET);
  });
});

describe('schedules made in Slack', () => {
  it('fire at most every SCHEDULE_MIN_INTERVAL_MINUTES', async () => {
    for (const cron of ['* * * * *', '*/2 * * * *', '0,3 9 * * *']) {
      const text = await say(h, `schedule add release-notes "${cron}"`, OWNER);
      expect(text).toContain('schedules made in Slack fire at most every 5 minutes');
    }
    expect(await h.core.db.prisma.schedule.count()).toBe(0);
    expect(await say(h, 'schedule add release-notes "*/5 * * * *"', OWNER)).toContain('Added');
  });

  it('are at most 20 per workflow', async () => {
    for (let hour = 0; hour < 20; hour++) {
      expect(await say(h, `schedule add release-notes "0 ${hour} * * *"`, OWNER)).toContain('Added');
    }
    expect(await say(h, 'schedule add release-notes "0 21 * * *"', OWNER)).toContain(
      'already has 20 schedules made in Slack; remove one first',
    );
    expect(await h.core.db.prisma.schedule.count()).toBe(20);
  });

  it('are added by the workflow’s owners and admins only', async () => {
    expect(await say(h, 'schedule add release-notes "0 9 * * *"', BOB)).toContain(
      "You can't add schedules to `release-notes`",
    );
    expect(await say(h, 'schedule add echo "0 9 * * *"', ADMIN)).toContain('Added');
  });
});

describe('what the channel is told', () => {
  it('a start error is escaped: it cannot broadcast, mention or link', async () => {
    const clock = new TestClock({ start: '2026-05-04T08:59:00Z' });
    const cron = manualCron();
    const hostile = 'Refused: <!channel> <@U0BOSS> see <https://evil.example|your bank>';
    const schedules = await startSchedules(
      {
        ...h.core,
        engine: {
          store: h.core.engine.store,
          runs: {
            startRun: async () => {
              throw new EngineError('invalid_choice', hostile);
            },
          },
        },
      },
      { onNotice: (channel, text) => h.slack.notify(channel, text), clock, cron: cron.factory },
    );
    try {
      clock.set('2026-05-04T09:00:01Z');
      await schedules.scheduler.tick();
      const notice = await waitFor(() => h.stub.messagesIn(SECRET)[0], 5000, 'the notice');
      const text = JSON.stringify(notice.blocks);
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<@U0BOSS>');
      expect(text).not.toContain('<https://');
      expect(visibleText(notice)).toContain('&lt;!channel&gt;');
    } finally {
      await schedules.stop();
    }
  });
});
