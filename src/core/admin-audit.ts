/** An admin's change to a setting, kept with who made it, when, and the value before and after. */
export interface AdminChange {
  /** What changed, e.g. `budget.tokensPerDay`, `tools`, `paused`, `global-pause`. */
  readonly setting: string;
  /** Whose setting: `channel`, `workspace`, `user U123`, `global`. */
  readonly scope: string;
  readonly old: unknown;
  readonly new: unknown;
  readonly by: string;
  readonly at: number;
  readonly platform: string;
  readonly tenantId: string;
  readonly channelId: string;
}

/** The admin audit trail, per workspace (Slack team, Discord guild). */
export interface AdminAuditLog {
  record(change: AdminChange): Promise<void>;
  /** The latest changes in a workspace, newest first. */
  recent(
    tenant: { readonly platform: string; readonly tenantId: string },
    limit: number,
  ): Promise<AdminChange[]>;
}
