import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  functionsYaml,
  genericFunction,
  RUN_WORKFLOW_FUNCTION,
  workflowFunctionId,
  workflowOfFunction,
} from '../../src/slack/function-manifest.js';
import { SHORTCUTS } from '../../src/slack/views/index.js';

// Both are CommonJS: under NodeNext the default export can arrive as the module object.
const AjvClass = ((Ajv as unknown as { default?: unknown }).default ?? Ajv) as typeof Ajv.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: InstanceType<typeof AjvClass>,
) => void;

const manifest = parse(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')) as {
  display_information: { name: string };
  features: {
    bot_user?: { display_name: string };
    app_home?: { home_tab_enabled?: boolean; messages_tab_enabled?: boolean };
    slash_commands?: { command: string; description: string; usage_hint?: string; url?: string }[];
    shortcuts?: { name: string; type: string; callback_id: string; description: string }[];
  };
  functions?: Record<string, unknown>;
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    interactivity?: { is_enabled: boolean; request_url?: string };
    event_subscriptions?: { request_url?: string; bot_events?: string[] };
    socket_mode_enabled?: boolean;
    org_deploy_enabled?: boolean;
    function_runtime?: string;
    token_rotation_enabled?: boolean;
  };
};
const schema = JSON.parse(
  readFileSync(new URL('../fixtures/slack/manifest.schema.json', import.meta.url), 'utf8'),
);

function validator() {
  // The schema carries annotations Ajv does not know (`regex`, `_note`): not strict.
  const ajv = new AjvClass({ allErrors: true, strict: false });
  addFormats(ajv);
  return { ajv, validate: ajv.compile(schema) };
}

describe('manifest.yml', () => {
  it('is a valid Slack app manifest (schema 1.0.0)', () => {
    const { ajv, validate } = validator();
    const ok = validate(manifest);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('creates the Switchboard bot with the /workflow command', () => {
    expect(manifest.display_information.name).toBe('Switchboard');
    expect(manifest.features.bot_user?.display_name).toBe('Switchboard');
    const command = manifest.features.slash_commands?.find((c) => c.command === '/workflow');
    expect(command?.usage_hint).toBe(
      'run <name> [input] | list | status [run] | cancel <run> | rerun <run> [from <step>] | schedule add|list|pause|resume|remove | edit <name> | export <name> | persona list|add|edit | health | help',
    );
    expect(command?.url).toBe('https://example.com/slack/events');
  });

  it('turns on interactivity for the cards, the home tab and Socket Mode', () => {
    expect(manifest.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: 'https://example.com/slack/events',
    });
    expect(manifest.settings.event_subscriptions?.bot_events).toContain('app_home_opened');
    expect(manifest.features.app_home).toMatchObject({ home_tab_enabled: true, messages_tab_enabled: true });
    expect(manifest.settings).toMatchObject({
      socket_mode_enabled: true,
      token_rotation_enabled: false,
    });
  });

  it('declares the "Run a workflow" shortcuts the bot answers', () => {
    expect(manifest.features.shortcuts?.map((s) => [s.type, s.callback_id])).toEqual([
      ['message', SHORTCUTS.fromMessage],
      ['global', SHORTCUTS.global],
    ]);
  });

  it('offers the generic Workflow Builder step the bot answers, with what functions require', () => {
    expect(manifest.functions?.[RUN_WORKFLOW_FUNCTION]).toEqual(genericFunction());
    expect(manifest.settings).toMatchObject({ function_runtime: 'remote', org_deploy_enabled: true });
    expect(manifest.settings.event_subscriptions?.bot_events).toContain('function_executed');
  });

  it('stays valid with one step per workflow, as npm run workflow -- functions prints them', () => {
    const generated = parse(
      functionsYaml([
        { name: 'release-notes', description: 'Draft release notes from a changelog' },
        { name: 'incident-summary', description: '' },
      ]),
    ) as { functions: Record<string, unknown> };
    expect(Object.keys(generated.functions)).toEqual([
      'run_workflow',
      'workflow_release_notes',
      'workflow_incident_summary',
    ]);
    const { ajv, validate } = validator();
    validate({ ...manifest, functions: generated.functions });
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(workflowOfFunction(workflowFunctionId('release-notes'))).toBe('release-notes');
    expect(workflowOfFunction('run_workflow')).toBeUndefined();
  });

  it('asks for every bot scope the code needs', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        'commands',
        'chat:write',
        'chat:write.public',
        'files:write',
        'channels:read',
        'groups:read',
        'im:read',
        'mpim:read',
        'users:read',
        'im:write',
        'channels:history',
        'groups:history',
        'im:history',
        'mpim:history',
        'im:read',
        'mpim:read',
        'usergroups:read',
      ]),
    );
  });

  it('hears when someone joins or leaves a channel (who may see its runs)', () => {
    expect(manifest.settings.event_subscriptions?.bot_events).toEqual(
      expect.arrayContaining(['member_joined_channel', 'member_left_channel']),
    );
  });
});
