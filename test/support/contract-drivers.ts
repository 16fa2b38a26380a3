import { type FakeDiscord, startFakeDiscord } from '../fakes/fake-discord.ts';
import { jsonArg, type RecordedCall } from '../fakes/fake-slack-api.ts';
import type { ScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { appMention, blockActionBody } from '../fakes/slack-signing.ts';
import { startDiscordStack } from './discord-stack.ts';
import { nextTs, startSlackStack } from './slack-stack.ts';

/** What the adapter contract needs from a platform under test, in the platform's own terms. */
export interface ContractDriver {
  readonly name: string;
  /** The configured approver, as an id of the platform. */
  readonly approver: string;
  /** A person mentions the bot; resolves with the id of the conversation (thread) the answer belongs in. */
  mention(text: string): Promise<string>;
  /** The bot's own message (mentioning itself) arrives as an event. */
  ownMessage(text: string): Promise<void>;
  /** Resolves once `text` was delivered in the conversation. */
  answered(conversation: string, text: string): Promise<void>;
  /** How many new messages the bot posted outside the conversation (must stay 0). */
  postedElsewhere(conversation: string): number;
  /** The approval card in the conversation: the approval id its buttons carry. */
  approvalCard(conversation: string): Promise<string>;
  /** The escalation card in the conversation: the run id its buttons carry. */
  escalationCard(conversation: string): Promise<string>;
  approve(conversation: string, approvalId: string, userId: string): Promise<void>;
  /** The approval card after the decision: its buttons, if any are left, and its text. */
  decidedCard(conversation: string): Promise<{ readonly buttons: number; readonly text: string }>;
  close(): Promise<void>;
}

export function contractYaml(approvers: { slack?: string; discord?: string }): string {
  return `agents:
  support:
    instructions: Help.
    tools: [tag_order, get_item]
tools:
  - name: tag_order
    description: Tag an order.
    whenToUse: Asked to tag.
    whenNotToUse: Otherwise.
    method: POST
    url: https://shop.example.com/orders/{id}/tags
    input: { type: object, properties: { id: { type: string } }, required: [id] }
    risk: write
  - name: get_item
    description: Look up an item.
    whenToUse: Always.
    whenNotToUse: Never.
    url: https://shop.example.com/items/{id}
    input: { type: object, properties: { id: { type: string } }, required: [id] }
http: { allowedHosts: [shop.example.com] }
approvals:
  approvers: { slack: [${approvers.slack ?? ''}], discord: [${approvers.discord ? `"${approvers.discord}"` : ''}] }
`;
}

/** A run id (a UUID), or an approval id: the run's id and 12 more characters (newApprovalId). */
const UUID = '([0-9a-f-]{36}(?:_[0-9a-f]{12})?)';

export async function slackDriver(model: ScriptedOpenAI): Promise<ContractDriver> {
  const approver = 'ULEAD';
  const stack = await startSlackStack({ model, yaml: contractYaml({ slack: approver }) });
  const blocks = (call: RecordedCall) => JSON.stringify(jsonArg(call, 'blocks') ?? '');
  const anyMessage = (match: (call: RecordedCall) => boolean) =>
    Promise.any([
      stack.api.waitForCall('chat.update', match),
      stack.api.waitForCall('chat.postMessage', match),
    ]);
  const cardId = async (actionId: string) => {
    const call = await anyMessage((c) => blocks(c).includes(`"action_id":"${actionId}"`));
    return new RegExp(`"value":"${UUID}"`).exec(blocks(call))?.[1] ?? '';
  };
  return {
    name: 'slack',
    approver,
    async mention(text) {
      const ts = nextTs();
      await stack.sendEvent(appMention({ user: 'UANA', channel: 'C1', text: `<@UBOT> ${text}`, ts }));
      return ts;
    },
    async ownMessage(text) {
      await stack.sendEvent(
        appMention({ user: 'UBOT', channel: 'C1', text: `<@UBOT> ${text}`, ts: nextTs() }),
      );
    },
    // Answers replace the status message Steward posted in the thread, or are posted in it.
    answered: async (_thread, text) => void (await anyMessage((c) => String(c.args.text).includes(text))),
    postedElsewhere: (thread) =>
      stack.api.callsTo('chat.postMessage').filter((c) => c.args.thread_ts !== thread).length,
    approvalCard: () => cardId('steward_approve'),
    escalationCard: () => cardId('steward_take_over'),
    async approve(thread, approvalId, userId) {
      await stack.sendForm(
        blockActionBody({
          user: userId,
          channel: 'C1',
          messageTs: thread,
          threadTs: thread,
          actionId: 'steward_approve',
          value: approvalId,
          responseUrl: stack.api.responseUrl('contract'),
        }),
      );
    },
    async decidedCard() {
      const call = await stack.api.waitForCall('chat.update', (c) => blocks(c).includes('Approved by'));
      return { buttons: (blocks(call).match(/"type":"button"/g) ?? []).length, text: blocks(call) };
    },
    close: () => stack.close(),
  };
}

export async function discordDriver(model: ScriptedOpenAI): Promise<ContractDriver> {
  const approver = '100000000000000002';
  const discord: FakeDiscord = await startFakeDiscord();
  const stack = await startDiscordStack({ discord, model, yaml: contractYaml({ discord: approver }) });
  const postsTo = (channel: string) => new RegExp(`^/channels/${channel}/messages$`);
  const cardId = async (thread: string, kind: string) => {
    const call = await discord.waitForCall('POST', postsTo(thread), (c) =>
      JSON.stringify(c.body).includes(`steward:${kind}:`),
    );
    return new RegExp(`steward:${kind}:${UUID}`).exec(JSON.stringify(call.body))?.[1] ?? '';
  };
  const mentionFrom = (author: { id: string; bot?: boolean }, text: string) =>
    discord.dispatchMessageCreate({
      channel_id: discord.textChannelId,
      author,
      content: `<@${discord.botUserId}> ${text}`,
      mentions: [{ id: discord.botUserId }],
    });
  return {
    name: 'discord',
    approver,
    // A mention opens a thread on the message; the thread has the message's id.
    mention: async (text) => mentionFrom({ id: '100000000000000001' }, text).id,
    ownMessage: async (text) => void mentionFrom({ id: discord.botUserId, bot: true }, text),
    answered: async (thread, text) =>
      void (await discord.waitForCall('POST', postsTo(thread), (c) => JSON.stringify(c.body).includes(text))),
    postedElsewhere: (thread) =>
      discord.callsTo('POST', /^\/channels\/\d+\/messages$/).filter((c) => !postsTo(thread).test(c.path))
        .length,
    approvalCard: (thread) => cardId(thread, 'approve'),
    escalationCard: (thread) => cardId(thread, 'take_over'),
    async approve(thread, approvalId, userId) {
      await discord.dispatchInteraction(
        discord.buttonInteraction({ userId, customId: `steward:approve:${approvalId}`, channelId: thread }),
      );
    },
    async decidedCard(thread) {
      const call = await discord.waitForCall('PATCH', new RegExp(`^/channels/${thread}/messages/`), (c) =>
        JSON.stringify(c.body).includes('Approved by'),
      );
      const body = call.body as { components?: unknown[] };
      return {
        buttons: JSON.stringify(body.components ?? []).match(/"type":2/g)?.length ?? 0,
        text: JSON.stringify(body),
      };
    },
    async close() {
      await stack.close();
      await discord.close();
    },
  };
}
