import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toModelSchema } from '../../../src/core/tools/model-schema.ts';

describe('tool input schemas as the model sees them', () => {
  it('closes every object and marks a fully-required schema strict', () => {
    const schema = toModelSchema(z.object({ id: z.string(), line: z.object({ sku: z.string() }) }));
    expect(schema.strict).toBe(true);
    expect(schema.parameters).toEqual({
      type: 'object',
      properties: {
        id: { type: 'string' },
        line: {
          type: 'object',
          properties: { sku: { type: 'string' } },
          required: ['sku'],
          additionalProperties: false,
        },
      },
      required: ['id', 'line'],
      additionalProperties: false,
    });
  });

  it('sends a schema with optional fields non-strict, since strict mode would force them', () => {
    expect(toModelSchema(z.object({ id: z.string(), note: z.string().optional() })).strict).toBe(false);
  });

  it('gives an empty input a closed empty object', () => {
    expect(toModelSchema(z.object({}))).toEqual({
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      strict: true,
    });
  });

  it('refuses a non-object input', () => {
    expect(() => toModelSchema(z.string())).toThrow('a tool input must be an object schema');
  });
});
