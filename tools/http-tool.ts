import { z } from 'zod';
import { HostNotAllowedError, ToolExecutionError } from '../src/core/errors.ts';
import { isRecord } from '../src/core/is-record.ts';
import type { ApprovalMode, Tool, ToolCategory, ToolRisk } from '../src/core/tools/define-tool.ts';
import { defineTool } from '../src/core/tools/define-tool.ts';
import { failure, notFound, success, type ToolResult } from '../src/core/tools/tool-result.ts';
import { isHostAllowed } from '../src/policy/allowed-hosts.ts';

/** A declarative HTTP tool as the config file describes it (headers already resolved). */
export interface HttpToolSpec {
  readonly name: string;
  readonly description: string;
  readonly whenToUse: string;
  readonly whenNotToUse: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `{name}` placeholders are filled from the arguments (URL-encoded) and removed from the body. */
  readonly url: string;
  readonly input: Record<string, unknown>;
  readonly headers: Readonly<Record<string, string>>;
  readonly category: ToolCategory;
  readonly risk: ToolRisk;
  readonly approval: ApprovalMode;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly retry?: { readonly maxAttempts: number } | undefined;
}

export interface HttpToolOptions {
  readonly allowedHosts: readonly string[];
  /** Responses are read up to this many characters; the model sees less after rendering. */
  readonly maxResponseChars?: number;
}

const PLACEHOLDER = /\{([^{}]+)\}/g;

/**
 * Builds a tool from config. Its output is untrusted (it comes from outside), a host outside the
 * allowlist is refused before any connection, redirects are not followed (they could leave the
 * allowlist), and the resolved headers, which may hold secrets, never appear in a result.
 */
export function createHttpTool(spec: HttpToolSpec, options: HttpToolOptions): Tool {
  const maxResponseChars = options.maxResponseChars ?? 200_000;
  // Config tools are closed objects: an argument the schema does not name is a mistake, not data.
  const schema = z.fromJSONSchema({ additionalProperties: false, ...spec.input });
  return defineTool({
    name: spec.name,
    description: spec.description,
    whenToUse: spec.whenToUse,
    whenNotToUse: spec.whenNotToUse,
    input: schema,
    category: spec.category,
    risk: spec.risk,
    approval: spec.approval,
    idempotent: spec.idempotent,
    timeoutMs: spec.timeoutMs,
    ...(spec.retry ? { retry: spec.retry } : {}),
    untrustedOutput: true,
    async execute(input, ctx): Promise<ToolResult> {
      const args = isRecord(input) ? input : {};
      const used = new Set<string>();
      const url = new URL(
        spec.url.replace(PLACEHOLDER, (_match, key: string) => {
          used.add(key);
          return encodeURIComponent(String(args[key] ?? ''));
        }),
      );
      if (!isHostAllowed(url, options.allowedHosts)) {
        return failure(new HostNotAllowedError(url.host).message, false);
      }
      const rest = Object.fromEntries(Object.entries(args).filter(([key]) => !used.has(key)));
      const hasBody = spec.method !== 'GET' && spec.method !== 'DELETE';
      if (!hasBody) {
        for (const [key, value] of Object.entries(rest)) url.searchParams.set(key, String(value));
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method: spec.method,
          headers: {
            accept: 'application/json',
            // The same key on a retry or after a crash lets the server recognize a repeat.
            'idempotency-key': ctx.idempotencyKey,
            ...(hasBody ? { 'content-type': 'application/json' } : {}),
            ...spec.headers,
          },
          ...(hasBody ? { body: JSON.stringify(rest) } : {}),
          redirect: 'manual',
          signal: ctx.signal,
        });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const detail =
          error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
        throw new ToolExecutionError(`could not reach ${url.host}: ${detail}`, {
          retryable: true,
          cause: error,
        });
      }
      const text = (await response.text()).slice(0, maxResponseChars);
      const body = parseBody(text);
      const where = `${spec.method} ${url.origin}${url.pathname}`;
      if (response.ok) return success(body);
      if (response.status === 404) return notFound(`nothing found at ${where}`);
      const retryable = response.status === 429 || response.status >= 500;
      const detail = typeof body === 'string' ? body.slice(0, 500) : JSON.stringify(body).slice(0, 500);
      if (response.status >= 300 && response.status < 400) {
        return failure(
          `${where} answered with a redirect (${response.status}), which HTTP tools do not follow`,
          false,
        );
      }
      return failure(`${where} answered HTTP ${response.status}: ${detail}`, retryable);
    },
  });
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
