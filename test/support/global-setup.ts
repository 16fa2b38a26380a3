/**
 * vitest globalSetup: find (or start) one Redis for the whole run and hand its URL to tests via
 * `inject('redisUrl')`. The rule lives in findOrStartRedis (test/support/redis.ts): REDIS_URL (default
 * redis://127.0.0.1:6379) if it answers PING, else a throwaway redis-server from PATH, else a helpful error.
 */
import type { TestProject } from 'vitest/node';
import { DEFAULT_REDIS_URL, type FoundRedis, findOrStartRedis } from './redis.ts';

let found: FoundRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  const url = process.env.REDIS_URL?.trim() || DEFAULT_REDIS_URL;
  found = await findOrStartRedis({ url });
  project.provide('redisUrl', found.url);
}

export async function teardown(): Promise<void> {
  const current = found;
  found = undefined;
  await current?.stop();
}
