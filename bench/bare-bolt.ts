import { App, HTTPReceiver } from '@slack/bolt';

/**
 * The baseline for ack latency: a bare Bolt app on the same receiver settings as the bot
 * (HTTPReceiver at /slack/events, signature checks, processBeforeResponse off) whose
 * listeners only ack. Run as its own process: node --import tsx bench/bare-bolt.ts.
 */
const receiver = new HTTPReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? '',
  endpoints: '/slack/events',
  processBeforeResponse: false,
});
// botId/botUserId given, so Bolt never calls auth.test (the bench talks only to 127.0.0.1).
const app = new App({
  token: 'xoxb-bare-bolt',
  botId: 'B0BARE',
  botUserId: 'U0BARE',
  receiver,
  tokenVerificationEnabled: false,
  clientOptions: { slackApiUrl: 'http://127.0.0.1:9/api/' },
});
app.command('/workflow', async ({ ack }) => {
  await ack();
});
app.action(/.*/, async ({ ack }) => {
  await ack();
});
await app.start(Number(process.env.PORT));
console.log('bare Bolt is running');
process.on('SIGTERM', () => {
  void app.stop().finally(() => process.exit(0));
});
