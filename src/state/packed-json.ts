/**
 * JSON packed small for values that wait in Redis a long time (a parked run's checkpoint and audit
 * log, an approval): raw deflate with a preset dictionary of the field names and phrases these values
 * share, so even a 1.5 KB checkpoint packs to about 350 bytes; plain deflate gets 650, because a
 * lone small document has little to repeat.
 *
 * Format: one version byte, then the deflated JSON. Anything else is plain JSON
 * (hot values are stored plain, since packing costs about 60 µs), so readers take both. The
 * dictionary of a version never changes: values packed with it must stay readable; a new
 * dictionary gets a new version byte.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';

const VERSION_1 = 0x01;
/** JSON text starts with a printable character (or whitespace, which JSON.stringify never writes). */
const FIRST_PRINTABLE = 0x20;

// Field names and phrases of checkpoints, approvals and audit events, most common last (deflate
// finds nearer matches in fewer bits).
const DICTIONARY_1 = Buffer.from(
  '[{"type":"tool.succeeded","tool":"","callId":"","outcome":"success","durationMs":,"attempts":1},' +
    '{"type":"tool.failed","error":"","retryable":false},{"type":"guard.tripped","guard":"","limit":},' +
    '{"type":"approval.decided","decision":"approve","by":""},{"type":"run.ended","outcome":"awaiting_approval"},' +
    '{"type":"model.called","model":"gpt-4.1-mini","promptTokens":,"completionTokens":,"latencyMs":,"toolCalls":1},' +
    '{"type":"tool.proposed","tool":"","callId":"call_","args":{}},{"type":"policy.verdict","verdict":"needs_approval",' +
    '"reason":" is configured to need approval"},{"type":"approval.requested","approvalId":""},' +
    '{"type":"run.started","agent":"","requestedBy":"","conversation":{"platform":"slack","tenantId":"",' +
    '"channelId":"","threadId":""},"traceId":"","at":}]' +
    '{"runId":"","traceId":"","agent":"","requestedBy":"","conversation":{"platform":"slack","tenantId":"",' +
    '"channelId":"","threadId":""},"startedAt":,"deadlineAt":,"limitsScale":1,"messages":[{"role":"system",' +
    '"content":""},{"role":"user","content":""},{"role":"assistant","content":null,"toolCalls":[{"id":"call_",' +
    '"name":"","arguments":""}]},{"role":"tool","toolCallId":""}],"rootRunId":"","parentRunId":null,' +
    '"chain":[""],"child":null,"iterations":,"usage":{"promptTokens":,"completionTokens":},"callCounts":{"":1},' +
    '"consecutiveFailures":0,"tainted":false,"batch":{"calls":[],"next":0},"pendingApproval":{"approvalId":"",' +
    '"toolName":"","callId":"","displayArgs":{},"argsHash":"","risk":"write","reason":" is configured to need ' +
    'approval","createdAt":,"expiresAt":},"inFlight":null}',
);

export function packJson(value: unknown): Buffer {
  const deflated = deflateRawSync(JSON.stringify(value), { dictionary: DICTIONARY_1 });
  return Buffer.concat([Buffer.of(VERSION_1), deflated]);
}

/** True for a value packJson made (plain JSON never starts with a control byte). */
export function isPacked(stored: Buffer): boolean {
  return stored[0] === VERSION_1;
}

/** Parses a packed or a plain JSON value. */
export function unpackJson(stored: Buffer): unknown {
  const first = stored[0];
  if (first === VERSION_1) {
    return JSON.parse(inflateRawSync(stored.subarray(1), { dictionary: DICTIONARY_1 }).toString('utf8'));
  }
  if (first !== undefined && first < FIRST_PRINTABLE) {
    throw new Error(`stored value has an unknown packing (first byte 0x${first.toString(16)})`);
  }
  return JSON.parse(stored.toString('utf8'));
}
