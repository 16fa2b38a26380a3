/**
 * Turns the declarative HTTP tools of steward.yaml into resolved tool configs, enforcing the
 * rules that keep them safe: hosts must be allow-listed, the model can only fill placeholders
 * that the input schema declares, secrets come from the environment, and destructive tools
 * always need a person's approval.
 */
import { isHostAllowed } from '../policy/allowed-hosts.ts';
import { closest, formatKey } from './config-errors.ts';
import type { APPROVAL_MODES, HTTP_METHODS, RawTool, TOOL_CATEGORIES, TOOL_RISKS } from './config-schema.ts';

export type HttpMethod = (typeof HTTP_METHODS)[number];
export type ToolCategory = (typeof TOOL_CATEGORIES)[number];
export type ToolRisk = (typeof TOOL_RISKS)[number];
export type ApprovalMode = (typeof APPROVAL_MODES)[number];

export interface HttpToolConfig {
  name: string;
  description: string;
  whenToUse: string;
  whenNotToUse: string;
  method: HttpMethod;
  /** May contain `{property}` placeholders, each a property of `input`. */
  url: string;
  input: Record<string, unknown>;
  /** Values with `${VAR}` already resolved. */
  headers: Record<string, string>;
  /** The resolved `${VAR}` values, so logs and audit records can redact them. */
  secretValues: string[];
  category: ToolCategory;
  risk: ToolRisk;
  approval: ApprovalMode;
  idempotent: boolean;
  timeoutMs: number;
  retry?: { maxAttempts: number };
}

export interface ToolContext {
  readonly env: Record<string, string | undefined>;
  readonly builtInTools: readonly string[];
  readonly allowedHosts: readonly string[];
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkUrl(tool: RawTool, at: string, context: ToolContext, problems: string[]): void {
  const where = `${at}.url`;
  // The model fills placeholders, so one in the host would let it choose where requests go.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(tool.url)?.[1] ?? '';
  if (authority.includes('{')) {
    problems.push(`${where}: placeholders are only allowed in the path and query, not in the host`);
    return;
  }
  let url: URL;
  try {
    url = new URL(tool.url);
  } catch {
    problems.push(`${where}: expected an http:// or https:// URL, got ${JSON.stringify(tool.url)}`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${where}: expected an http:// or https:// URL, got ${JSON.stringify(tool.url)}`);
    return;
  }
  if (!isHostAllowed(url, context.allowedHosts)) {
    problems.push(
      `${where}: host "${url.host}" is not in http.allowedHosts; add it there to allow requests to it`,
    );
  }
  const properties = Object.keys(tool.input.properties);
  for (const [, name] of tool.url.matchAll(PLACEHOLDER)) {
    if (name !== undefined && !properties.includes(name)) {
      problems.push(`${where}: placeholder {${name}} is not a property of ${at}.input.properties`);
    }
  }
}

function checkInput(tool: RawTool, at: string, problems: string[]): void {
  const properties = Object.keys(tool.input.properties);
  tool.input.required?.forEach((name, i) => {
    if (!properties.includes(name)) {
      problems.push(`${at}.input.required[${i}]: "${name}" is not a property of ${at}.input.properties`);
    }
  });
}

/** Resolves `${VAR}` in header values; every missing variable is reported, not just the first. */
function resolveHeaders(
  tool: RawTool,
  at: string,
  env: ToolContext['env'],
  problems: string[],
): { headers: Record<string, string>; secretValues: string[] } {
  const headers: Record<string, string> = {};
  const secretValues = new Set<string>();
  for (const [name, template] of Object.entries(tool.headers)) {
    const where = `${at}.headers${formatKey(name)}`;
    if (!HEADER_NAME.test(name)) {
      problems.push(`${where}: "${name}" is not a valid HTTP header name`);
      continue;
    }
    headers[name] = template.replace(ENV_REFERENCE, (_match, variable: string) => {
      const value = env[variable]?.trim();
      if (value === undefined || value === '') {
        problems.push(
          `${where}: environment variable ${variable} is not set; set it or remove \${${variable}}`,
        );
        return '';
      }
      secretValues.add(value);
      return value;
    });
  }
  return { headers, secretValues: [...secretValues] };
}

function resolveTool(tool: RawTool, at: string, context: ToolContext, problems: string[]): HttpToolConfig {
  checkUrl(tool, at, context, problems);
  checkInput(tool, at, problems);
  const { headers, secretValues } = resolveHeaders(tool, at, context.env, problems);
  const approval = tool.approval ?? (tool.risk === 'read' ? 'never' : 'required');
  if (tool.risk === 'destructive' && approval === 'never') {
    problems.push(`${at}.approval: destructive tools always need approval; remove "approval: never"`);
  }
  const resolved: HttpToolConfig = {
    name: tool.name,
    description: tool.description,
    whenToUse: tool.whenToUse,
    whenNotToUse: tool.whenNotToUse,
    method: tool.method,
    url: tool.url,
    input: { ...tool.input },
    headers,
    secretValues,
    category: tool.category ?? (tool.risk === 'read' ? 'lookup' : 'mutation'),
    risk: tool.risk,
    approval,
    // Only GET is safe to repeat by default; a retried POST could refund an order twice.
    idempotent: tool.idempotent ?? tool.method === 'GET',
    timeoutMs: tool.timeoutMs,
  };
  if (tool.retry !== undefined) resolved.retry = { maxAttempts: tool.retry.maxAttempts };
  return resolved;
}

/** Resolves every tool, appending one line per problem to `problems`. */
export function resolveTools(
  tools: readonly RawTool[],
  context: ToolContext,
  problems: string[],
): HttpToolConfig[] {
  const firstIndexByName = new Map<string, number>();
  return tools.map((tool, i) => {
    const at = `tools[${i}]`;
    if (context.builtInTools.includes(tool.name)) {
      problems.push(`${at}.name: "${tool.name}" is a built-in tool; choose another name`);
    }
    const first = firstIndexByName.get(tool.name);
    if (first !== undefined) problems.push(`${at}.name: "${tool.name}" is already used by tools[${first}]`);
    else firstIndexByName.set(tool.name, i);
    return resolveTool(tool, at, context, problems);
  });
}

/** `unknown tool "x" (did you mean "y"?)`, shared by agent tool lists. */
export function unknownToolMessage(name: string, known: readonly string[]): string {
  const guess = closest(name, known);
  const hint =
    guess !== undefined
      ? `did you mean "${guess}"?`
      : known.length > 0
        ? `expected one of ${known.join(', ')}`
        : 'no tools are defined: add one under tools';
  return `unknown tool "${name}" (${hint})`;
}
