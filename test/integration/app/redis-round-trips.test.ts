import { describe, expect, it } from 'vitest';
import { measureRedisRoundTrips, ROUND_TRIPS_TARGET } from '../../../bench/redis-round-trips.ts';

/**
 * Issue 8: a model round trip costs at most 3 Redis round trips. Round trips are counted, not
 * timed (the app's writes seen by a TCP proxy), so unlike the benchmarks' timings this figure holds
 * on a loaded machine and a regression fails here rather than waiting for someone to run the bench.
 */
describe('Redis round trips of a conversation', () => {
  it('costs at most 3 Redis round trips per model round trip, everything on', async () => {
    const result = await measureRedisRoundTrips({ conversations: 5 });

    expect(result.modelRoundTrips).toBe(30);
    expect(result.roundTripsPerModelRoundTrip).toBeGreaterThan(1);
    expect(result.roundTripsPerModelRoundTrip).toBeLessThanOrEqual(ROUND_TRIPS_TARGET);
  }, 60_000);
});
