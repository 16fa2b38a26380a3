import { z } from 'zod';
import { defineTool } from '../src/core/tools/define-tool.ts';
import { success } from '../src/core/tools/tool-result.ts';

/** Ends the run as escalated; the reason and summary are what the person taking over reads first. */
export const escalateToHuman = defineTool({
  name: 'escalate_to_human',
  description: 'Hand this conversation to a person on the team and stop working on it.',
  whenToUse:
    'You cannot finish the request with your tools, the request needs a human decision, or the person asks for a human.',
  whenNotToUse: 'You can still answer or make progress with your other tools.',
  input: z.object({
    reason: z.string().min(1).max(500).describe('Why a person is needed, in one sentence.'),
    summary: z
      .string()
      .min(1)
      .max(4000)
      .describe('What was asked, what you found and did, and what is left, for the person taking over.'),
  }),
  category: 'escalation',
  risk: 'read',
  idempotent: true,
  execute: async (input) => success({ reason: input.reason, summary: input.summary }),
});
