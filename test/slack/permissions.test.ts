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
  channels: ['C0RUNS', 'C0ALERTS'],
};
const owners: PermissionPolicy = { adminUserIds: ['U0ADMIN'], editPolicy: 'owners' };
const channel: PermissionPolicy = { ...owners, editPolicy: 'channel' };

describe('who may change a run', () => {
  it('allows the starter, the workflow owners and the admins', () => {
    expect(mayActOnRun({ userId: 'U0ALICE' }, run, owners)).toEqual({ allowed: true, as: 'starter' });
    expect(mayActOnRun({ userId: 'U0OWNER' }, run, owners)).toEqual({ allowed: true, as: 'owner' });
    expect(mayActOnRun({ userId: 'U0ADMIN', channelId: 'C0ELSE' }, run, owners)).toEqual({
      allowed: true,
      as: 'admin',
    });
  });

  it('refuses anyone else under the default policy, even in the run’s channel, saying who can', () => {
    const decision = mayActOnRun({ userId: 'U0BOB', channelId: 'C0RUNS' }, run, owners);
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) {
      expect(decision.message).toContain("You can't change run #7");
      expect(decision.message).toContain('<@U0ALICE>');
      expect(decision.message).toContain('Nothing was changed');
    }
  });

  it('with SLACK_EDIT_POLICY=channel, lets people act from the run’s channel or its alert, not from elsewhere', () => {
    expect(mayActOnRun({ userId: 'U0BOB', channelId: 'C0RUNS' }, run, channel)).toEqual({
      allowed: true,
      as: 'channel',
    });
    expect(mayActOnRun({ userId: 'U0BOB', channelId: 'C0ALERTS' }, run, channel)).toMatchObject({
      allowed: true,
    });
    expect(mayActOnRun({ userId: 'U0BOB', channelId: 'C0OTHER' }, run, channel)).toMatchObject({
      allowed: false,
    });
    expect(mayActOnRun({ userId: 'U0BOB' }, run, channel)).toMatchObject({ allowed: false });
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

  it('lets owners, admins and the schedule’s maker manage it; the channel too under the channel policy', () => {
    const target = {
      workflow: 'release-notes',
      owners: ['U0OWNER'],
      createdBy: 'U0MAKER',
      channelId: 'C0DIGEST',
    };
    expect(mayManageSchedule({ userId: 'U0OWNER' }, target, owners)).toMatchObject({ allowed: true });
    expect(mayManageSchedule({ userId: 'U0ADMIN' }, target, owners)).toMatchObject({ allowed: true });
    expect(mayManageSchedule({ userId: 'U0MAKER' }, target, owners)).toMatchObject({ allowed: true });
    expect(mayManageSchedule({ userId: 'U0BOB', channelId: 'C0DIGEST' }, target, owners)).toMatchObject({
      allowed: false,
    });
    expect(mayManageSchedule({ userId: 'U0BOB', channelId: 'C0DIGEST' }, target, channel)).toEqual({
      allowed: true,
      as: 'channel',
    });
    expect(mayManageSchedule({ userId: 'U0BOB', channelId: 'C0ELSE' }, target, channel)).toMatchObject({
      allowed: false,
    });
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
