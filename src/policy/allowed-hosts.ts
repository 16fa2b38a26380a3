/**
 * Where HTTP tools may go. A bare host allows any port on it; `host:port` allows only that port.
 * Checked at config load for every configured URL, and again right before each request.
 */
export function isHostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return allowedHosts.some((entry) => {
    const allowed = entry.toLowerCase();
    return allowed === hostname || allowed === `${hostname}:${port}`;
  });
}
