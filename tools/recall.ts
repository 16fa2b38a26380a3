import { z } from 'zod';
import { defineTool } from '../src/core/tools/define-tool.ts';
import { notFound, success } from '../src/core/tools/tool-result.ts';

/** Reads this channel's notes, oldest first, with who saved each and when. */
export const recall = defineTool({
  name: 'recall',
  description: 'Read the notes saved for this channel.',
  whenToUse: 'The question may depend on something the channel asked you to remember earlier.',
  whenNotToUse: 'The answer is already in this conversation.',
  input: z.object({}),
  category: 'lookup',
  risk: 'read',
  idempotent: true,
  execute: async (_input, ctx) => {
    const notes = await ctx.notes.list(ctx.conversation);
    if (notes.length === 0) return notFound('no notes are saved for this channel');
    return success(
      notes.map((note) => ({ text: note.text, by: note.by, at: new Date(note.at).toISOString() })),
    );
  },
});
