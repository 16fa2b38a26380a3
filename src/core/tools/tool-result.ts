/**
 * Every tool outcome is one of three shapes, so "could not fetch" is never confused with
 * "nothing there".
 */
export type ToolResult =
  | { readonly status: 'success'; readonly data: unknown }
  | { readonly status: 'not_found'; readonly message: string }
  | { readonly status: 'error'; readonly error: string; readonly retryable: boolean };

export function success(data: unknown): ToolResult {
  return { status: 'success', data };
}

export function notFound(message: string): ToolResult {
  return { status: 'not_found', message };
}

export function failure(error: string, retryable: boolean): ToolResult {
  return { status: 'error', error, retryable };
}
