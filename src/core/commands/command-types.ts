import type { ConversationRef } from '../conversation.ts';

/** A /steward invocation, normalized by an adapter. */
export interface CommandInvocation {
  /** The channel the command was typed in (threadId is null). */
  readonly channel: ConversationRef;
  readonly userId: string;
  /** Everything after `/steward`, as typed. */
  readonly text: string;
  /** The platform says this user administers the workspace or guild (Slack admin/owner, Discord Manage Server). */
  readonly isPlatformAdmin: boolean;
}

/** What the adapter shows; commands answer only the person who typed them. */
export interface CommandReply {
  readonly text: string;
}

export interface CommandRouter {
  handle(invocation: CommandInvocation): Promise<CommandReply>;
}
