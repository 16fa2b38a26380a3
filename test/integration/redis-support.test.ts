import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { connectTestRedis, type FoundRedis, findOrStartRedis, testPrefix } from '../support/redis.ts';

const NOTHING_LISTENS = 'redis://127.0.0.1:1';

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describe('testPrefix', () => {
  it('is unique per call and shaped test:<random>:', () => {
    const a = testPrefix();
    const b = testPrefix();
    expect(a).toMatch(/^test:[0-9a-f]{12}:$/);
    expect(a).not.toBe(b);
  });

  it('includes a sanitised name without glob characters', () => {
    expect(testPrefix('budget store *[x]?')).toMatch(/^test:budget-store-x:[0-9a-f]{12}:$/);
  });
});

describe('connectTestRedis', () => {
  it('gives a working connection whose cleanup removes only its own prefix', async () => {
    const mine = await connectTestRedis({ name: 'mine' });
    const neighbour = await connectTestRedis({ name: 'neighbour' });
    try {
      expect(mine.prefix).not.toBe(neighbour.prefix);
      expect(await mine.redis.ping()).toBe('PONG');

      // More keys than one SCAN page, so cleanup has to follow the cursor.
      const pipeline = mine.redis.pipeline();
      for (let i = 0; i < 1_200; i += 1) pipeline.set(`${mine.prefix}k${i}`, String(i));
      pipeline.hset(`${mine.prefix}hash`, 'field', 'value');
      await pipeline.exec();
      await neighbour.redis.set(`${neighbour.prefix}k0`, 'keep');
      // A key that shares the start of the prefix text but is not under it.
      const lookalike = mine.prefix.slice(0, -1);
      await neighbour.redis.set(lookalike, 'keep too');

      expect(await neighbour.redis.get(`${mine.prefix}k7`)).toBe('7');

      await mine.cleanup();
      await mine.cleanup(); // idempotent

      expect(
        await neighbour.redis.exists(`${mine.prefix}k0`, `${mine.prefix}k1199`, `${mine.prefix}hash`),
      ).toBe(0);
      expect(await neighbour.redis.get(`${neighbour.prefix}k0`)).toBe('keep');
      expect(await neighbour.redis.get(lookalike)).toBe('keep too');
      expect(mine.redis.status).toBe('end');
      await neighbour.redis.del(lookalike);
    } finally {
      await mine.cleanup();
      await neighbour.cleanup();
    }
    expect(neighbour.redis.status).toBe('end');
  });
});

describe('findOrStartRedis', () => {
  let found: FoundRedis | undefined;
  afterEach(async () => {
    await found?.stop();
    found = undefined;
  });

  it('uses a server that answers PING without starting one', async () => {
    found = await findOrStartRedis({ url: inject('redisUrl') });
    expect(found).toMatchObject({ url: inject('redisUrl'), started: false });
    await found.stop();
  });

  it('starts a throwaway redis-server when the url does not answer, and stop() ends it', async () => {
    found = await findOrStartRedis({ url: NOTHING_LISTENS });
    expect(found.started).toBe(true);
    expect(found.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(found.url).not.toBe(NOTHING_LISTENS);
    expect(await answersPing(found.url)).toBe(true);

    await found.stop();
    await found.stop(); // idempotent
    expect(await answersPing(found.url)).toBe(false);
  });

  it('rejects with a message that says how to get a Redis', async () => {
    const attempt = findOrStartRedis({ url: NOTHING_LISTENS, redisServerBin: '/nonexistent/redis-server' });
    await expect(attempt).rejects.toThrow(/REDIS_URL/);
    await expect(attempt).rejects.toThrow(/install redis-server/);
    await expect(attempt).rejects.toThrow(/\/nonexistent\/redis-server/);
    await expect(attempt).rejects.toThrow(/apt-get install redis-server|brew install redis/);
  });

  it('does not print a password from the url', async () => {
    const attempt = findOrStartRedis({
      url: 'redis://user:s3cret@127.0.0.1:1',
      redisServerBin: '/nonexistent/redis-server',
    });
    await expect(attempt).rejects.toThrow(/user:\*\*\*@127\.0\.0\.1:1/);
    await expect(attempt).rejects.not.toThrow(/s3cret/);
  });

  it('gives up on a server that accepts but never answers within about a second', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const attempt = findOrStartRedis({
        url: `redis://127.0.0.1:${port}`,
        redisServerBin: '/nonexistent/redis-server',
      });
      await expect(attempt).rejects.toThrow(/did not answer PING within 1000 ms/);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reports a redis-server that exits before answering', async () => {
    // `false` exits at once with code 1, like a redis-server that cannot start.
    const attempt = findOrStartRedis({ url: NOTHING_LISTENS, redisServerBin: 'false' });
    await expect(attempt).rejects.toThrow(/exited early \(code 1\)/);
  });
});
