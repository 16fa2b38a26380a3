import { describe, expect, it } from 'vitest';
import { packJson, unpackJson } from '../../../src/state/packed-json.ts';

describe('packed JSON', () => {
  it('round-trips a value, unicode and nesting included', () => {
    const value = { a: 'ünïcødé ✓', n: 1795324506071, list: [null, true, { deep: ['x'] }], empty: {} };
    expect(unpackJson(packJson(value))).toEqual(value);
  });

  it('reads plain JSON as written before packing existed', () => {
    expect(unpackJson(Buffer.from('{"runId":"r1"}'))).toEqual({ runId: 'r1' });
  });

  it('refuses bytes of a packing it does not know, naming the byte', () => {
    expect(() => unpackJson(Buffer.of(0x07, 1, 2))).toThrow('unknown packing (first byte 0x7)');
  });
});
