import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hashArguments } from '../../../src/core/canonical-json.ts';
import { defineTool } from '../../../src/core/tools/define-tool.ts';
import { createToolRegistry } from '../../../src/core/tools/tool-registry.ts';
import { success } from '../../../src/core/tools/tool-result.ts';
import { recordingTool } from '../../support/test-tools.ts';

describe('the tool registry', () => {
  const a = recordingTool('get_order').tool;
  const b = recordingTool('get_shipment').tool;

  it('returns specs in the order asked, skipping unknown names, with whenToUse in the description', () => {
    const registry = createToolRegistry([a, b]);
    const specs = registry.specsFor(['get_shipment', 'nope', 'get_order']);
    expect(specs.map((s) => s.name)).toEqual(['get_shipment', 'get_order']);
    expect(specs[1]?.description).toBe(
      'Test tool get_order.\nUse when: In tests.\nDo not use: Never in production.',
    );
    expect(registry.names()).toEqual(['get_order', 'get_shipment']);
  });

  it('refuses a tool registered twice', () => {
    expect(() => createToolRegistry([a, a])).toThrow('tool "get_order" is registered twice');
  });

  it('applies defaults: approval by risk, 15 s timeout, three attempts', () => {
    const tool = defineTool({
      name: 'tag_order',
      description: 'd',
      whenToUse: 'w',
      whenNotToUse: 'n',
      input: z.object({}),
      category: 'mutation',
      risk: 'write',
      idempotent: true,
      execute: async () => success(null),
    });
    expect(tool).toMatchObject({
      approval: 'required',
      timeoutMs: 15_000,
      retry: { maxAttempts: 3 },
      untrustedOutput: false,
    });
    expect(a.approval).toBe('never');
  });

  it('refuses a name the model API would reject', () => {
    expect(() => recordingTool('get order')).toThrow('tool name "get order" must match');
  });
});

describe('argument hashing', () => {
  it('is the same for the same arguments in any key order, and differs by tool', () => {
    expect(hashArguments('t', { a: 1, b: { c: 2, d: [1, 2] } })).toBe(
      hashArguments('t', { b: { d: [1, 2], c: 2 }, a: 1 }),
    );
    expect(hashArguments('t', { a: 1 })).not.toBe(hashArguments('u', { a: 1 }));
    expect(hashArguments('t', { a: [1, 2] })).not.toBe(hashArguments('t', { a: [2, 1] }));
  });
});
