import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_IN_CONFIG, loadConfigFile, parseConfig } from '../../../src/app/config-file.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import {
  DEFAULT_MAX_INPUT_CHARS,
  DEFAULT_RUN_LIMITS,
  DEFAULT_TOOL_TIMEOUT_MS,
} from '../../../src/core/limits.ts';

const BUILT_INS = ['escalate_to_human'];
const repoRoot = join(import.meta.dirname, '../../..');

function parse(yaml: string, env: Record<string, string | undefined> = {}) {
  return parseConfig(yaml, { env, builtInTools: BUILT_INS });
}

function problemsOf(yaml: string, env: Record<string, string | undefined> = {}): readonly string[] {
  try {
    parse(yaml, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected parseConfig to throw');
}

const MINIMAL = 'agents:\n  support:\n    instructions: Help with orders.\n';

/** One HTTP tool with the required fields, plus whatever the test adds (YAML flow mapping). */
function withTool(extra: string, top = 'http: { allowedHosts: [shop.example.com] }'): string {
  return [
    'agents:',
    '  support: { instructions: Help., tools: [get_order] }',
    'tools:',
    `  - { name: get_order, description: d, whenToUse: w, whenNotToUse: n, ${extra} }`,
    top,
  ].join('\n');
}

describe('parseConfig defaults', () => {
  it('fills in every default from a minimal file', () => {
    expect(parse(MINIMAL)).toEqual({
      defaultAgent: 'support',
      agents: {
        support: {
          name: 'support',
          instructions: 'Help with orders.',
          tools: [],
          limits: DEFAULT_RUN_LIMITS,
          delegates: [],
          outputChecks: { identifiers: [] },
        },
      },
      tools: [],
      http: { allowedHosts: [] },
      approvals: {
        approvers: { slack: [], discord: [] },
        expiresAfterMs: 15 * 60_000,
        allowSelfApproval: false,
      },
      admins: { slack: [], discord: [] },
      limits: { maxInputChars: DEFAULT_MAX_INPUT_CHARS },
      escalation: { notify: { slack: [], discord: [] } },
      sessions: { maxTokens: 8_000, expiresAfterMs: 7 * 86_400_000 },
      workers: { concurrency: 4, shutdownGraceMs: 10_000 },
      budgets: {
        prices: {},
        defaults: { channel: {}, workspace: {}, user: {} },
        userMessagesPerMinute: 10,
      },
      breakers: {
        errorRate: { threshold: 0.2, windowMs: 5 * 60_000, minRuns: 10 },
        costSpike: { factor: 2, baselineHours: 24, minHourlyUsd: 1 },
        opsChannel: null,
      },
    });
  });

  it('merges per-agent limits over the defaults', () => {
    const config = parse(`${MINIMAL}    limits: { maxIterations: 5, timeoutMs: 1000 }\n`);
    expect(config.agents.support?.limits).toEqual({
      ...DEFAULT_RUN_LIMITS,
      maxIterations: 5,
      timeoutMs: 1000,
    });
  });

  it('treats an empty value as absent', () => {
    expect(parse(`${MINIMAL}tools:\nhttp:\n`).tools).toEqual([]);
  });

  it.each([
    ['30s', 30_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
  ])('parses expiresAfter %s', (text, ms) => {
    expect(parse(`${MINIMAL}approvals: { expiresAfter: ${text} }\n`).approvals.expiresAfterMs).toBe(ms);
  });

  it('derives category, approval and idempotency from method and risk', () => {
    const read = parse(withTool('url: "https://shop.example.com/orders"')).tools[0];
    expect(read).toMatchObject({
      method: 'GET',
      risk: 'read',
      category: 'lookup',
      approval: 'never',
      idempotent: true,
      timeoutMs: DEFAULT_TOOL_TIMEOUT_MS,
      input: { type: 'object', properties: {} },
      headers: {},
      secretValues: [],
    });
    expect(read).not.toHaveProperty('retry');

    const write = parse(withTool('method: POST, risk: write, url: "https://shop.example.com/orders"'))
      .tools[0];
    expect(write).toMatchObject({ category: 'mutation', approval: 'required', idempotent: false });
  });
});

describe('parseConfig problems', () => {
  it('names the key path and the value for a bad limit', () => {
    expect(problemsOf(`${MINIMAL}    limits: { maxIterations: many }\n`)).toEqual([
      'agents.support.limits.maxIterations: expected a whole number ≥ 1, got "many"',
    ]);
  });

  it('reports a typo in a key, suggesting the real one', () => {
    expect(problemsOf(`${MINIMAL}    tool: [escalate_to_human]\n`)).toEqual([
      'agents.support.tool: unknown key (did you mean "tools"?)',
    ]);
  });

  it('reports several problems at once, one line each', () => {
    const problems = problemsOf(
      [
        'agents:',
        '  support:',
        '    limits: { maxTokens: 0 }',
        'approvals: { expiresAfter: soon }',
        'admins: { discord: [123] }',
      ].join('\n'),
    );
    expect(problems).toEqual([
      "agents.support.instructions: missing; expected the agent's instructions as non-empty text",
      'agents.support.limits.maxTokens: expected a whole number ≥ 1, got 0',
      'approvals.expiresAfter: expected a duration such as 30s, 15m, 2h or 1d, got "soon"',
      'admins.discord[0]: expected a Discord ID in quotes, such as "123456789012345678", got 123',
    ]);
  });

  it('reports an agent tool that does not exist', () => {
    expect(problemsOf(`${MINIMAL}    tools: [escalate_to_humans]\n`)).toEqual([
      'agents.support.tools[0]: unknown tool "escalate_to_humans" (did you mean "escalate_to_human"?)',
    ]);
  });

  it('requires defaultAgent to name an agent', () => {
    expect(problemsOf(`defaultAgent: billing\n${MINIMAL}`)).toEqual([
      'defaultAgent: expected one of support, got "billing"',
    ]);
  });

  it('requires defaultAgent when there are several agents', () => {
    expect(problemsOf(`${MINIMAL}  billing: { instructions: Invoices. }\n`)).toEqual([
      'defaultAgent: missing; expected one of support, billing (required with several agents)',
    ]);
  });

  it('checks input.required and header names', () => {
    const yaml = withTool(
      'url: "https://shop.example.com/o", input: { properties: { id: {} }, required: [idd] }, headers: { "X Bad": v }',
    );
    expect(problemsOf(yaml)).toEqual([
      'tools[0].input.required[0]: "idd" is not a property of tools[0].input.properties',
      'tools[0].headers["X Bad"]: "X Bad" is not a valid HTTP header name',
    ]);
  });

  it('requires at least one agent', () => {
    expect(problemsOf('agents: {}\n')).toEqual([
      'agents: expected at least one agent, such as assistant: { instructions: ... }',
    ]);
  });

  it('substitutes environment variables in headers and records the secret', () => {
    const tool = parse(
      withTool(`url: "https://shop.example.com/o", headers: { Authorization: "Bearer \${SHOP_TOKEN}" }`),
      { SHOP_TOKEN: 's3cret' },
    ).tools[0];
    expect(tool?.headers).toEqual({ Authorization: 'Bearer s3cret' });
    expect(tool?.secretValues).toEqual(['s3cret']);
  });

  it('reports a header variable that is not set', () => {
    const yaml = withTool(
      `url: "https://shop.example.com/o", headers: { Authorization: "Bearer \${SHOP_TOKEN}" }`,
    );
    const expected = [
      `tools[0].headers.Authorization: environment variable SHOP_TOKEN is not set; set it or remove \${SHOP_TOKEN}`,
    ];
    expect(problemsOf(yaml)).toEqual(expected);
    expect(problemsOf(yaml, { SHOP_TOKEN: '' })).toEqual(expected);
  });

  it('rejects a url whose host is not allowed', () => {
    expect(problemsOf(withTool('url: "https://evil.example.net/o"'))).toEqual([
      'tools[0].url: host "evil.example.net" is not in http.allowedHosts; add it there to allow requests to it',
    ]);
  });

  it('matches allowed hosts with and without a port', () => {
    expect(() =>
      parse(withTool('url: "http://api.local:8080/o"', 'http: { allowedHosts: [api.local] }')),
    ).not.toThrow();
    expect(() =>
      parse(withTool('url: "https://api.local/o"', 'http: { allowedHosts: ["api.local:443"] }')),
    ).not.toThrow();
    expect(
      problemsOf(withTool('url: "http://api.local:9/o"', 'http: { allowedHosts: ["api.local:8080"] }')),
    ).toEqual([
      'tools[0].url: host "api.local:9" is not in http.allowedHosts; add it there to allow requests to it',
    ]);
  });

  it('rejects a url placeholder that is not an input property', () => {
    const yaml = withTool(
      'url: "https://shop.example.com/orders/{order_id}", input: { properties: { id: { type: string } } }',
    );
    expect(problemsOf(yaml)).toEqual([
      'tools[0].url: placeholder {order_id} is not a property of tools[0].input.properties',
    ]);
  });

  it('rejects placeholders in the host and non-http urls', () => {
    expect(problemsOf(withTool('url: "https://{tenant}.shop.example.com/o"'))).toEqual([
      'tools[0].url: placeholders are only allowed in the path and query, not in the host',
    ]);
    expect(problemsOf(withTool('url: "ftp://shop.example.com/o"'))).toEqual([
      'tools[0].url: expected an http:// or https:// URL, got "ftp://shop.example.com/o"',
    ]);
  });

  it('insists that destructive tools need approval', () => {
    expect(
      problemsOf(
        withTool('url: "https://shop.example.com/o", method: DELETE, risk: destructive, approval: never'),
      ),
    ).toEqual(['tools[0].approval: destructive tools always need approval; remove "approval: never"']);
  });

  it('rejects tool names that are invalid, duplicated or built in', () => {
    const tool = (name: string) =>
      `  - { name: "${name}", description: d, whenToUse: w, whenNotToUse: n, url: "https://a.example/x" }`;
    const yaml = [
      MINIMAL,
      'tools:',
      tool('get order'),
      tool('dup'),
      tool('dup'),
      tool('escalate_to_human'),
      'http: { allowedHosts: [a.example] }',
    ].join('\n');
    expect(problemsOf(yaml)).toEqual([
      'tools[0].name: expected 1 to 64 letters, digits, _ or - (the OpenAI function name rule), got "get order"',
    ]);
    expect(problemsOf(yaml.replace('get order', 'get_order'))).toEqual([
      'tools[2].name: "dup" is already used by tools[1]',
      'tools[3].name: "escalate_to_human" is a built-in tool; choose another name',
    ]);
  });

  it('reports YAML syntax errors with a line number', () => {
    const problems = problemsOf('agents:\n  support:\n    instructions: "unterminated\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^line \d+, column \d+: /);
    expect(problemsOf('agents:\n  a: { instructions: x }\n  a: { instructions: y }\n')).toEqual([
      'line 3, column 3: Map keys must be unique',
    ]);
  });

  it('names the source in the error message', () => {
    expect(() => parseConfig('agents: []', { env: {}, source: 'steward.yaml' })).toThrow(
      /^steward\.yaml is invalid:\n {2}- agents: expected a mapping of agent names to agents, got a list$/,
    );
  });
});

describe('steward.example.yaml', () => {
  it('parses with the documented environment', () => {
    const text = readFileSync(join(repoRoot, 'steward.example.yaml'), 'utf8');
    const config = parseConfig(text, { env: { SHOP_TOKEN: 'x' }, builtInTools: BUILT_INS });
    expect(config.defaultAgent).toBe('support');
    expect(config.agents.support?.tools).toEqual(['get_order', 'escalate_to_human']);
    expect(config.agents.support?.delegates).toEqual([{ agent: 'billing', requiresApproval: false }]);
    expect(config.agents.billing?.tools).toEqual(['get_order', 'refund_order']);
    expect(
      new RegExp(config.agents.support?.outputChecks.identifiers[0]?.pattern ?? '').test('order A-1001'),
    ).toBe(true);
    expect(config.tools.map((tool) => [tool.name, tool.method, tool.risk, tool.approval])).toEqual([
      ['get_order', 'GET', 'read', 'never'],
      ['refund_order', 'POST', 'write', 'required'],
    ]);
    expect(config.tools[1]?.headers).toEqual({ Authorization: 'Bearer x' });
    expect(config.approvals.approvers.discord).toEqual(['123456789012345678']);
  });
});

describe('loadConfigFile', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function tempPath(name: string): string {
    dir ??= mkdtempSync(join(tmpdir(), 'steward-config-'));
    return join(dir, name);
  }

  it('falls back to the built-in config when the file is missing and that is allowed', () => {
    const config = loadConfigFile(tempPath('steward.yaml'), { env: {}, allowMissing: true });
    expect(config).toEqual(BUILT_IN_CONFIG);
    expect(config.agents.assistant?.tools).toEqual(['escalate_to_human']);
    expect(config.agents.assistant?.instructions).toMatch(/Steward/);
  });

  it('names STEWARD_CONFIG when a chosen file is missing', () => {
    const path = tempPath('missing.yaml');
    expect(() => loadConfigFile(path, { env: {}, allowMissing: false })).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/^STEWARD_CONFIG is invalid:/),
        problems: [
          `${path} does not exist: create it (see steward.example.yaml) or set STEWARD_CONFIG to the right path`,
        ],
      }),
    );
  });

  it('reads and parses an existing file, reporting problems under its path', () => {
    const path = tempPath('steward.yaml');
    writeFileSync(path, `${MINIMAL}    tools: [escalate_to_human]\n`);
    expect(loadConfigFile(path, { env: {}, allowMissing: false, builtInTools: BUILT_INS }).defaultAgent).toBe(
      'support',
    );
    writeFileSync(path, 'agents: 1\n');
    expect(() => loadConfigFile(path, { env: {}, allowMissing: true })).toThrow(`${path} is invalid`);
  });
});

describe('multi-agent settings', () => {
  const base = (agentExtra: string) => `agents:
  support:
    instructions: Route.
${agentExtra}
  billing:
    instructions: Refunds.
defaultAgent: support
`;

  it('reads delegates, a planner and output checks', () => {
    const config = parseConfig(
      base(`    delegates: [billing, { agent: billing, requiresApproval: true }]
    planner: { model: gpt-4.1-nano }
    outputChecks: { identifiers: [{ name: order number, pattern: "\\\\b\\\\d{5}\\\\b" }] }`),
      { env: {} },
    );
    expect(config.agents.support?.delegates).toEqual([
      { agent: 'billing', requiresApproval: false },
      { agent: 'billing', requiresApproval: true },
    ]);
    expect(config.agents.support?.planner).toEqual({ model: 'gpt-4.1-nano' });
    expect(config.agents.support?.outputChecks.identifiers[0]?.name).toBe('order number');
  });

  it('names the key of an unknown delegate, a self-delegation and a bad pattern', () => {
    expect(() =>
      parseConfig(
        base(`    delegates: [support, ghost]
    outputChecks: { identifiers: [{ name: bad, pattern: "(" }] }`),
        { env: {} },
      ),
    ).toThrow(
      /agents\.support\.delegates\[0\]: an agent cannot delegate to itself[\s\S]*agents\.support\.delegates\[1\]: expected one of the agents[\s\S]*agents\.support\.outputChecks\.identifiers\[0\]\.pattern: not a valid regular expression/,
    );
  });
});
