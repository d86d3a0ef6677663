import { describe, expect, it } from 'vitest';
import {
  mayActOnRun,
  mayEditPersona,
  mayEditWorkflow,
  mayManageSchedule,
  type PermissionPolicy,
  type RunAccess,
} from '../../src/slack/permissions.js';

const run: RunAccess = {
  number: 7,
  startedBy: 'U0ALICE',
  owners: ['U0OWNER'],
  channelId: 'C0RUNS',
};
const owners: PermissionPolicy = { adminUserIds: ['U0ADMIN'], editPolicy: 'owners' };
const channel: PermissionPolicy = { ...owners, editPolicy: 'channel' };
/** A member of the channel concerned, from this workspace; and the same person elsewhere or from outside. */
const member = (userId: string) => ({ userId, inChannel: true, outsider: false });
const notInChannel = (userId: string) => ({ userId, inChannel: false, outsider: false });
const outsider = (userId: string) => ({ userId, inChannel: true, outsider: true });

describe('who may change a run', () => {
  it('allows the starter, the workflow owners and the admins', () => {
    expect(mayActOnRun(member('U0ALICE'), run, owners)).toEqual({ allowed: true, as: 'starter' });
    expect(mayActOnRun(member('U0OWNER'), run, owners)).toEqual({ allowed: true, as: 'owner' });
    expect(mayActOnRun(notInChannel('U0ADMIN'), run, owners)).toEqual({ allowed: true, as: 'admin' });
  });

  it('refuses anyone else under the default policy, even in the run’s channel, saying who can', () => {
    const decision = mayActOnRun(member('U0BOB'), run, owners);
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) {
      expect(decision.message).toContain("You can't change run #7");
      expect(decision.message).toContain('<@U0ALICE>');
      expect(decision.message).toContain('Nothing was changed');
    }
  });

  it('with SLACK_EDIT_POLICY=channel, lets members of the run’s channel act, not people elsewhere nor outsiders', () => {
    expect(mayActOnRun(member('U0BOB'), run, channel)).toEqual({ allowed: true, as: 'channel' });
    expect(mayActOnRun(notInChannel('U0BOB'), run, channel)).toMatchObject({ allowed: false });
    // Slack Connect members of a shared channel, and guests, get no channel rights.
    const denied = mayActOnRun(outsider('U0EXT'), run, channel);
    expect(denied).toMatchObject({ allowed: false });
    expect(denied.allowed ? '' : denied.message).toContain('members of its channel from this workspace');
  });
});

describe('who may edit definitions and schedules', () => {
  const workflow = { name: 'release-notes', owners: ['U0OWNER'] };

  it('lets only owners and admins edit a workflow, whatever the channel policy', () => {
    expect(mayEditWorkflow('U0OWNER', workflow, owners)).toEqual({ allowed: true, as: 'owner' });
    expect(mayEditWorkflow('U0ADMIN', workflow, channel)).toEqual({ allowed: true, as: 'admin' });
    const denied = mayEditWorkflow('U0ALICE', workflow, channel);
    expect(denied).toMatchObject({ allowed: false });
    expect(denied.allowed ? '' : denied.message).toContain(
      'Only its owners (<@U0OWNER>) and Switchboard admins',
    );
    expect(mayEditWorkflow('U0ALICE', { name: 'x', owners: [] }, owners)).toMatchObject({ allowed: false });
  });

  it('lets owners, admins and the schedule’s maker manage it; its channel may pause and resume it under the channel policy', () => {
    const target = {
      workflow: 'release-notes',
      owners: ['U0OWNER'],
      createdBy: 'U0MAKER',
      channelId: 'C0DIGEST',
    };
    for (const action of ['pause', 'resume', 'remove'] as const) {
      expect(mayManageSchedule(member('U0OWNER'), target, owners, action)).toMatchObject({ allowed: true });
      expect(mayManageSchedule(member('U0ADMIN'), target, owners, action)).toMatchObject({ allowed: true });
      expect(mayManageSchedule(member('U0MAKER'), target, owners, action)).toMatchObject({ allowed: true });
      expect(mayManageSchedule(member('U0BOB'), target, owners, action)).toMatchObject({ allowed: false });
      expect(mayManageSchedule(notInChannel('U0BOB'), target, channel, action)).toMatchObject({
        allowed: false,
      });
      expect(mayManageSchedule(outsider('U0EXT'), target, channel, action)).toMatchObject({ allowed: false });
    }
    expect(mayManageSchedule(member('U0BOB'), target, channel, 'pause')).toEqual({
      allowed: true,
      as: 'channel',
    });
    expect(mayManageSchedule(member('U0BOB'), target, channel, 'resume')).toMatchObject({ allowed: true });
    expect(mayManageSchedule(member('U0BOB'), target, channel, 'remove')).toMatchObject({ allowed: false });
  });

  it('lets only owners and admins add a schedule, whatever the channel policy', () => {
    const target = { workflow: 'release-notes', owners: ['U0OWNER'], channelId: 'C0DIGEST' };
    expect(mayManageSchedule(member('U0OWNER'), target, channel, 'add')).toMatchObject({ allowed: true });
    expect(mayManageSchedule(notInChannel('U0ADMIN'), target, owners, 'add')).toMatchObject({
      allowed: true,
    });
    const denied = mayManageSchedule(member('U0BOB'), target, channel, 'add');
    expect(denied).toMatchObject({ allowed: false });
    expect(denied.allowed ? '' : denied.message).toContain("You can't add schedules");
  });

  it('lets admins edit any persona, and owners one whose workflows are all theirs', () => {
    const usedBy = [
      { name: 'a', owners: ['U0OWNER'] },
      { name: 'b', owners: ['U0OWNER', 'U0OTHER'] },
    ];
    expect(mayEditPersona('U0OWNER', { name: 'p', usedBy }, true, owners)).toMatchObject({ allowed: true });
    expect(mayEditPersona('U0OTHER', { name: 'p', usedBy }, true, owners)).toMatchObject({ allowed: false });
    expect(mayEditPersona('U0ADMIN', { name: 'p', usedBy }, false, owners)).toMatchObject({ allowed: true });
    expect(mayEditPersona('U0OTHER', { name: null, usedBy: [] }, true, owners)).toMatchObject({
      allowed: true,
    });
    expect(mayEditPersona('U0NOBODY', { name: null, usedBy: [] }, false, channel)).toMatchObject({
      allowed: false,
    });
  });
});
