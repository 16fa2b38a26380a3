import { z } from 'zod';
import { defineTool } from '../src/core/tools/define-tool.ts';
import { failure, success } from '../src/core/tools/tool-result.ts';

export const NOTE_MAX_CHARS = 500;

/** Keeps a short fact for this channel's agent, with who asked for it and when. */
export const remember = defineTool({
  name: 'remember',
  description: 'Save a short note for this channel, to recall in later conversations.',
  whenToUse: 'Someone asks you to remember a fact, preference or decision for this channel.',
  whenNotToUse: 'For anything secret (passwords, tokens), or for facts only this conversation needs.',
  input: z.object({
    text: z.string().trim().min(1).max(NOTE_MAX_CHARS).describe('The note, in one or two sentences.'),
  }),
  category: 'mutation',
  risk: 'write',
  // A note is low-stakes and visible to the channel; asking a person each time would make it useless.
  approval: 'never',
  idempotent: false,
  execute: async (input, ctx) => {
    const result = await ctx.notes.add(ctx.conversation, {
      text: input.text,
      by: ctx.requestedBy,
      at: Date.now(),
    });
    if (result.status === 'full') {
      return failure(`this channel already has ${result.limit} notes, the most it keeps`, false);
    }
    return success({ saved: true, notes: result.count });
  },
});
