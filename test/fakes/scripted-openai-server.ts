/**
 * A scripted, OpenAI-compatible Chat Completions server on loopback, owned by the test that starts it.
 *
 * Every `POST /v1/chat/completions` is recorded (in order) and consumes the next step of the script.
 * When the script runs out the server answers 500 `scripted server: no step left for request #N`, so a
 * test that under-scripts fails loudly instead of hanging or passing by accident.
 *
 * Only `stream: false` is supported; `stream: true` is rejected with 400 (recorded, no step consumed).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';

export interface ScriptedUsage {
  prompt: number;
  completion: number;
}

/** Assistant text answer, finish_reason 'stop'. */
export interface ReplyStep {
  reply: string;
  usage?: ScriptedUsage;
}

export interface ScriptedToolCall {
  name: string;
  /** An object is JSON.stringified; a string is sent verbatim (so tests can send invalid JSON). */
  arguments: string | Record<string, unknown>;
  /** Defaults to `call_<n>`, unique across this server. */
  id?: string;
}

/** Assistant message with tool_calls, finish_reason 'tool_calls'. */
export interface ToolCallsStep {
  toolCalls: ScriptedToolCall[];
  content?: string;
  usage?: ScriptedUsage;
}

/** An HTTP error. The default body is an OpenAI-shaped `{ error: { message, type, code } }`. */
export interface ErrorStep {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Never answer: until the client aborts or the server closes (close() destroys the socket). */
export interface HangStep {
  hang: true;
}

/** Decide the step from the request body. May return another dynamic step. */
export interface DynamicStep {
  respond: (body: RecordedChatBody, request: RecordedRequest) => ScriptStep | Promise<ScriptStep>;
}

export type ScriptStep = ReplyStep | ToolCallsStep | ErrorStep | HangStep | DynamicStep;

/** The request body as the client sent it (parsed JSON; types are a convenience, not a validation). */
export interface RecordedChatBody {
  model?: string;
  messages?: ChatCompletionMessageParam[];
  tools?: ChatCompletionTool[];
  stream?: boolean;
  [key: string]: unknown;
}

/**
 * One recorded request: the body's fields spread at the top level (so `request.messages` works) and the
 * whole body under `body`, plus the request headers, when it was received, and its 1-based number.
 */
export interface RecordedRequest extends RecordedChatBody {
  body: RecordedChatBody;
  headers: IncomingHttpHeaders;
  /** `Date.now()` when the body had been read. */
  receivedAt: number;
  /** 1-based request number, as used in the exhaustion message. */
  index: number;
}

export interface ScriptedOpenAI {
  /** e.g. `http://127.0.0.1:PORT/v1`, usable as the openai SDK's `baseURL`. */
  baseURL: string;
  /** Every POST /v1/chat/completions, in order (including ones that got an error). */
  requests: RecordedRequest[];
  /** Append steps to the script. */
  enqueue(...steps: ScriptStep[]): void;
  /** Steps not yet consumed. */
  remaining(): number;
  /** Stop listening and destroy every socket (including hung requests). Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_USAGE: ScriptedUsage = { prompt: 10, completion: 5 };
const MAX_DYNAMIC_DEPTH = 10;
const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';

export interface ScriptedOpenAIOptions {
  readonly script?: ScriptStep[];
  /** Answers every request that finds the script empty (tests with many unordered requests). */
  readonly fallback?: ScriptStep;
}

export async function startScriptedOpenAI(options?: ScriptedOpenAIOptions): Promise<ScriptedOpenAI> {
  const script: ScriptStep[] = [...(options?.script ?? [])];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let toolCallCounter = 0;
  let completionCounter = 0;
  let closed: Promise<void> | undefined;

  const nextToolCallId = (): string => {
    toolCallCounter += 1;
    return `call_${toolCallCounter}`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== CHAT_COMPLETIONS_PATH) {
      sendError(res, 404, `scripted server: no route for ${req.method ?? '?'} ${req.url ?? ''}`);
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, `scripted server: ${CHAT_COMPLETIONS_PATH} only accepts POST`);
      return;
    }

    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      sendError(res, 400, 'scripted server: request body is not valid JSON');
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      sendError(res, 400, 'scripted server: request body must be a JSON object');
      return;
    }

    const body = parsed as RecordedChatBody;
    const record: RecordedRequest = {
      ...body,
      body,
      headers: req.headers,
      receivedAt: Date.now(),
      index: requests.length + 1,
    };
    requests.push(record);

    if (body.stream === true) {
      sendError(res, 400, 'scripted server: stream: true is not supported; send stream: false');
      return;
    }

    let step = script.shift() ?? options?.fallback;
    if (step === undefined) {
      sendError(res, 500, `scripted server: no step left for request #${record.index}`, 'server_error');
      return;
    }

    for (let depth = 0; 'respond' in step; depth += 1) {
      if (depth >= MAX_DYNAMIC_DEPTH) {
        sendError(res, 500, `scripted server: respond() steps nested more than ${MAX_DYNAMIC_DEPTH} deep`);
        return;
      }
      try {
        step = await step.respond(body, record);
      } catch (error) {
        sendError(
          res,
          500,
          `scripted server: respond() threw for request #${record.index}: ${describe(error)}`,
        );
        return;
      }
    }

    if ('hang' in step) {
      // Leave the response open; the client's abort or close() ends the socket.
      return;
    }
    if ('status' in step) {
      const headers = { 'content-type': 'application/json', ...step.headers };
      const errorBody = step.body === undefined ? defaultErrorBody(step.status) : step.body;
      res.writeHead(step.status, headers);
      res.end(typeof errorBody === 'string' ? errorBody : JSON.stringify(errorBody));
      return;
    }

    completionCounter += 1;
    const model = typeof body.model === 'string' ? body.model : 'scripted-model';
    const usage = step.usage ?? DEFAULT_USAGE;
    const message =
      'reply' in step
        ? { role: 'assistant', content: step.reply, refusal: null }
        : {
            role: 'assistant',
            content: step.content ?? null,
            refusal: null,
            tool_calls: step.toolCalls.map((call) => ({
              id: call.id ?? nextToolCallId(),
              type: 'function',
              function: {
                name: call.name,
                arguments:
                  typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
              },
            })),
          };
    sendJson(res, 200, {
      id: `chatcmpl-scripted-${completionCounter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message,
          logprobs: null,
          finish_reason: 'reply' in step ? 'stop' : 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.prompt + usage.completion,
      },
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, `scripted server: internal error: ${describe(error)}`);
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue(...steps: ScriptStep[]): void {
      script.push(...steps);
    },
    remaining(): number {
      return script.length;
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closed;
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(payload));
}

function sendError(res: ServerResponse, status: number, message: string, type = errorType(status)): void {
  sendJson(res, status, { error: { message, type, code: errorCode(status), param: null } });
}

function defaultErrorBody(status: number): unknown {
  return {
    error: {
      message: `scripted server: scripted error ${status}`,
      type: errorType(status),
      code: errorCode(status),
      param: null,
    },
  };
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function errorCode(status: number): string | null {
  if (status === 401) return 'invalid_api_key';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
