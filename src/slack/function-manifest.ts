import { stringify } from 'yaml';

/**
 * Workflows as Workflow Builder steps (Slack custom functions, docs/slack.md): their
 * callback_ids and their manifest entries. manifest.yml is a static file, so it declares one
 * generic step, "Run a Switchboard workflow", that takes the workflow's name as an input;
 * `npm run workflow -- functions` prints one more step per workflow (its name fixed, its
 * description shown in Workflow Builder) for teams that prefer a step per workflow. The bot
 * answers both kinds. Manifest v1 takes parameters as a flat map by name
 * (docs.slack.dev/reference/app-manifest, "functions").
 */

/** The generic step's callback_id. */
export const RUN_WORKFLOW_FUNCTION = 'run_workflow';
const PER_WORKFLOW_PREFIX = 'workflow_';

/** `release-notes` → `workflow_release_notes` (a callback_id is snake_case; slugs have no `_`, so it maps back). */
export function workflowFunctionId(name: string): string {
  return `${PER_WORKFLOW_PREFIX}${name.replace(/-/g, '_')}`;
}

/** The workflow a per-workflow step runs, or undefined for another callback_id. */
export function workflowOfFunction(callbackId: string): string | undefined {
  if (!callbackId.startsWith(PER_WORKFLOW_PREFIX)) return undefined;
  const name = callbackId.slice(PER_WORKFLOW_PREFIX.length).replace(/_/g, '-');
  return /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/.test(name) ? name : undefined;
}

interface Parameter {
  type: string;
  title: string;
  description: string;
  is_required: boolean;
}

interface FunctionEntry {
  title: string;
  description: string;
  input_parameters: Record<string, Parameter>;
  output_parameters: Record<string, Parameter>;
}

const INPUTS: Record<string, Parameter> = {
  input: {
    type: 'string',
    title: 'Input',
    description: 'What the workflow works on: {{input}} in its prompts',
    is_required: false,
  },
  channel_id: {
    type: 'slack#/types/channel_id',
    title: 'Post the run in',
    description: 'A channel for the run’s thread, where its steps can be followed and rescued (optional)',
    is_required: false,
  },
  user_id: {
    type: 'slack#/types/user_id',
    title: 'Run for',
    description:
      'Who the run is started for, e.g. the person who used this workflow (needed by workflows that list runners)',
    is_required: false,
  },
};

const OUTPUTS: Record<string, Parameter> = {
  output: {
    type: 'string',
    title: 'Output',
    description: 'The last step’s output',
    is_required: true,
  },
  run_link: {
    type: 'string',
    title: 'Run link',
    description: 'A link to the run’s thread in Slack (empty when it has none)',
    is_required: false,
  },
};

/** The generic step, as manifest.yml declares it. */
export function genericFunction(): FunctionEntry {
  return {
    title: 'Run a Switchboard workflow',
    description: 'Runs a Switchboard workflow on an input and returns its final output and a link to the run',
    input_parameters: {
      workflow: {
        type: 'string',
        title: 'Workflow',
        description: 'The workflow’s name, e.g. release-notes (/workflow list shows them)',
        is_required: true,
      },
      ...INPUTS,
    },
    output_parameters: OUTPUTS,
  };
}

/** One workflow as a step of its own. Slack allows 50 functions per app: the first 49 workflows. */
export function workflowFunction(w: { name: string; description: string }): FunctionEntry {
  return {
    title: `Switchboard: ${w.name}`.slice(0, 255),
    description: (w.description || `Runs the Switchboard workflow ${w.name}`).slice(0, 255),
    input_parameters: INPUTS,
    output_parameters: OUTPUTS,
  };
}

/** The manifest's `functions:` block: the generic step, then one per workflow (49 at most). */
export function functionsYaml(workflows: readonly { name: string; description: string }[]): string {
  const functions: Record<string, FunctionEntry> = { [RUN_WORKFLOW_FUNCTION]: genericFunction() };
  for (const w of workflows.slice(0, 49)) functions[workflowFunctionId(w.name)] = workflowFunction(w);
  // No YAML anchors: the steps share parameter objects, and a pasted manifest should read plainly.
  return stringify({ functions }, { lineWidth: 0, aliasDuplicateObjects: false });
}
