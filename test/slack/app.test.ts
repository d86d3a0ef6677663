import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createSlackApp, SlackConfigError, slackConfigProblem } from '../../src/slack/slack-app.js';
import { expectValidHome, visibleText } from '../support/block-kit.js';
import { waitFor } from '../support/engine.js';
import { type Harness, startHarness } from '../support/slack-harness.js';
import { postSigned, SIGNING_SECRET } from '../support/slack-requests.js';

/** The app's wiring: modes, configuration errors, the Home tab. */

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const slackConfig = (env: Record<string, string>) => loadConfig(env).slack;

describe('configuration', () => {
  it('names what is missing for either mode', () => {
    expect(slackConfigProblem(slackConfig({}))).toMatch(
      /SLACK_BOT_TOKEN[\s\S]*SLACK_SIGNING_SECRET[\s\S]*SLACK_APP_TOKEN/,
    );
    expect(
      slackConfigProblem(slackConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's3cret' })),
    ).toBeUndefined();
    expect(
      slackConfigProblem(slackConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' })),
    ).toBeUndefined();
    const onlySecret = slackConfigProblem(slackConfig({ SLACK_SIGNING_SECRET: 's3cret' }));
    expect(onlySecret).toContain('SLACK_BOT_TOKEN');
    expect(onlySecret).not.toContain('SLACK_APP_TOKEN');
    expect(() => createSlackApp({ core: h.core, config: loadConfig({}) })).toThrow(SlackConfigError);
  });

  it('uses Socket Mode when SLACK_APP_TOKEN is set, HTTP otherwise', () => {
    const socket = createSlackApp({
      core: h.core,
      config: loadConfig({
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_APP_TOKEN: 'xapp-test',
        SLACK_API_URL: h.stub.apiUrl,
      }),
    });
    expect(socket.mode).toBe('socket');
    socket.close();
    expect(h.slack.mode).toBe('http');
  });
});

describe('App Home', () => {
  it('shows how to use /workflow and the runs you started', async () => {
    const body = JSON.stringify({
      token: 'deprecated',
      team_id: 'T0TEST',
      api_app_id: 'A0TEST',
      type: 'event_callback',
      event_id: 'Ev0HOME',
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: 'app_home_opened',
        user: 'U0ALICE',
        channel: 'D0HOME',
        tab: 'home',
        event_ts: `${Date.now() / 1000}`,
      },
    });
    const ack = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { contentType: 'application/json' });
    expect(ack.status).toBe(200);
    const publish = await waitFor(() => h.stub.callsOf('views.publish')[0], 5000, 'views.publish');
    expect(publish.body.user_id).toBe('U0ALICE');
    expectValidHome(publish.body.view);
    const text = visibleText({ blocks: (publish.body.view as { blocks: unknown[] }).blocks });
    expect(text).toContain('/workflow run <name> [input]');
    expect(text).toContain('No runs yet');
  });
});
