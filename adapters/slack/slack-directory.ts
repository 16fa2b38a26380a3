import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../src/core/ports.ts';

/** Who someone is in the workspace, as far as Steward's rules need to know. */
export interface SlackDirectory {
  /** Workspace admin or owner. */
  isAdmin(userId: string): Promise<boolean>;
  /** Which of the user groups named in the config (approvers, admins) this user belongs to. */
  groupsOf(userId: string): Promise<string[]>;
}

const CACHE_MS = 5 * 60_000;

/**
 * Looks people up with users.info and usergroups.users.list, cached for a few minutes: a click
 * or a command must not cost a round of API calls each time, and Slack rate-limits these methods.
 * A failed look-up counts as "no", so an outage of Slack's API never grants a permission.
 */
export function createSlackDirectory(options: {
  client: WebClient;
  /** Group ids (S…) named anywhere in the config. */
  groups: readonly string[];
  logger: Logger;
  now?: () => number;
}): SlackDirectory {
  const { client, logger } = options;
  const now = options.now ?? Date.now;
  const admins = new Map<string, { value: boolean; at: number }>();
  let members: { value: Map<string, Set<string>>; at: number } | undefined;

  const loadGroups = async (): Promise<Map<string, Set<string>>> => {
    if (members && now() - members.at < CACHE_MS) return members.value;
    const value = new Map<string, Set<string>>();
    for (const group of options.groups) {
      try {
        const response = await client.usergroups.users.list({ usergroup: group });
        value.set(group, new Set(response.users ?? []));
      } catch (error) {
        logger.warn({ err: error, group }, 'could not list a Slack user group');
      }
    }
    members = { value, at: now() };
    return value;
  };

  return {
    async isAdmin(userId) {
      const cached = admins.get(userId);
      if (cached && now() - cached.at < CACHE_MS) return cached.value;
      try {
        const { user } = await client.users.info({ user: userId });
        const value = Boolean(user?.is_admin || user?.is_owner);
        admins.set(userId, { value, at: now() });
        return value;
      } catch (error) {
        logger.warn({ err: error, userId }, 'could not look up a Slack user');
        return false;
      }
    },
    async groupsOf(userId) {
      if (options.groups.length === 0) return [];
      const groups = await loadGroups();
      return [...groups].filter(([, users]) => users.has(userId)).map(([group]) => group);
    },
  };
}
