import { z } from 'zod';
import { isRecord } from '../is-record.ts';

export interface ModelSchema {
  readonly parameters: Record<string, unknown>;
  /**
   * Whether the schema fits the model API's strict mode (every property required, no extra
   * properties). Strict mode makes the model's arguments match the schema by construction; a
   * schema with optional properties is sent non-strict and validated on our side instead.
   */
  readonly strict: boolean;
}

/**
 * Turns a tool's zod input into the JSON schema the model sees. Objects are closed
 * (`additionalProperties: false`) so the model is never invited to invent fields.
 */
export function toModelSchema(input: z.ZodType): ModelSchema {
  const generated: unknown = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' });
  let strict = true;
  const close = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(close);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$schema') continue;
      out[key] = close(value);
    }
    if (out.type === 'object') {
      const properties = isRecord(out.properties) ? out.properties : {};
      out.properties = properties;
      out.additionalProperties = false;
      const required = Array.isArray(out.required) ? out.required : [];
      if (Object.keys(properties).some((name) => !required.includes(name))) strict = false;
    }
    return out;
  };
  const parameters = close(generated);
  if (!isRecord(parameters) || parameters.type !== 'object') {
    throw new TypeError('a tool input must be an object schema');
  }
  return { parameters, strict };
}
