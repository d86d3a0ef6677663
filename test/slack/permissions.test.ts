import { describe, expect, it } from 'vitest';
import { mayActOnRun, type PermissionPolicy, type RunAccess } from '../../src/slack/permissions.js';

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
