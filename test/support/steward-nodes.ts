import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ButtonAction, IncomingMessage } from '../../src/core/conversation.ts';
import { type Child, ROOT, startTsx } from './processes.ts';

export interface NodePost {
  readonly node: string;
  /** When the process posted it (epoch ms), to order posts across processes. */
  readonly at: number;
  readonly kind: 'answer' | 'notice' | 'approval' | 'escalation' | 'decided';
  readonly text?: string;
  readonly approvalId?: string;
  readonly runId?: string;
  readonly reason?: string;
  readonly decision?: string;
  readonly by?: string | null;
  readonly target: { channelId: string; threadId: string | null } | null;
}

export interface NodeHandled {
  readonly node: string;
  readonly status: string;
  readonly runId?: string;
  readonly reason?: string;
}

export interface StewardNode {
  readonly name: string;
  readonly child: Child;
  message(message: IncomingMessage): void;
  action(action: ButtonAction, memberships?: string[]): void;
  posts(): NodePost[];
  handled(): NodeHandled[];
  waitForPost(match: (post: NodePost) => boolean, timeoutMs?: number): Promise<NodePost>;
  waitForHandled(count: number, timeoutMs?: number): Promise<NodeHandled[]>;
}

/** The steward.yaml for a multi-process test, written to a temp file; returns its path. */
export function writeConfig(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'steward-node-')), 'steward.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** Starts test/fixtures/steward-node.ts as its own process and waits until it takes work. */
export async function startNode(name: string, env: Record<string, string>): Promise<StewardNode> {
  const child = startTsx(join(ROOT, 'test/fixtures/steward-node.ts'), {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_LEVEL: 'warn',
      NODE_NAME: name,
      ...env,
    },
  });
  await child.waitFor('READY\n', 30_000);
  const linesOf = <T>(tag: string): T[] =>
    child
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith(`${tag} `))
      .map((line) => JSON.parse(line.slice(tag.length + 1)) as T);
  const poll = async <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `${name}: ${what} did not happen within ${timeoutMs} ms\nstdout:\n${child.stdout()}\nstderr:\n${child.stderr()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const send = (command: unknown) => child.process.stdin.write(`${JSON.stringify(command)}\n`);
  return {
    name,
    child,
    message: (message) => send({ op: 'message', message }),
    action: (action, memberships = []) => send({ op: 'action', action, memberships }),
    posts: () => linesOf<NodePost>('POST'),
    handled: () => linesOf<NodeHandled>('HANDLED'),
    waitForPost: (match, timeoutMs = 20_000) =>
      poll(() => linesOf<NodePost>('POST').find(match), 'the expected post', timeoutMs),
    waitForHandled: (count, timeoutMs = 20_000) =>
      poll(
        () => {
          const all = linesOf<NodeHandled>('HANDLED');
          return all.length >= count ? all : undefined;
        },
        `${count} handled commands`,
        timeoutMs,
      ),
  };
}

/**
 * A steward.yaml with one agent and a side-effecting HTTP tool, refund_order, pointed at a counting
 * server; `lookup` adds a read-only get_item tool on the same server. `tool` adds keys to
 * refund_order (indented 4 spaces), `extra` adds top-level keys (approvers, admins, …).
 */
export function refundConfigYaml(
  shop: { url: string; host: string },
  options: { tool?: string; extra?: string; lookup?: boolean } = {},
): string {
  const getItem = options.lookup
    ? `  - name: get_item
    description: Look up an item.
    whenToUse: Always.
    whenNotToUse: Never.
    url: ${shop.url}/items/{id}
    input: { type: object, properties: { id: { type: string } }, required: [id] }
`
    : '';
  return `agents:
  support:
    instructions: You refund orders.
    tools: [refund_order${options.lookup ? ', get_item' : ''}]
tools:
  - name: refund_order
    description: Refund an order.
    whenToUse: A refund was asked for.
    whenNotToUse: Lookups.
    method: POST
    url: ${shop.url}/refund/{order_id}
    input: { type: object, properties: { order_id: { type: string } }, required: [order_id] }
    risk: write
${options.tool ?? ''}${getItem}http: { allowedHosts: ["${shop.host}"] }
${options.extra ?? ''}`;
}
