/**
 * The budget's Lua scripts. Every scope contributes three keys in the same order: its overrides
 * hash, this day's usage hash and this month's usage hash (fields `tokens` and `usd`, the latter
 * in micro-dollars). Limits arrive per scope as four numbers in LIMIT_KEYS order
 * (tokensPerDay, tokensPerMonth, usdPerDay, usdPerMonth), -1 for none; an override field wins.
 */

// Returns {scopeIndex, limitIndex, used, limit} (0-based scope, 1-based limit) for the first limit
// already used up, or nil. A limit is used up once usage reaches it: a call is let through while
// anything is left, which is why concurrent runs overshoot by at most one reservation.
const FIND_EXHAUSTED = `
local function find_exhausted(key_base, arg_base, scopes)
  for s = 0, scopes - 1 do
    local over = redis.call('HMGET', KEYS[key_base + s * 3], 'tokensPerDay', 'tokensPerMonth', 'usdPerDay', 'usdPerMonth')
    local day = redis.call('HMGET', KEYS[key_base + s * 3 + 1], 'tokens', 'usd')
    local month = redis.call('HMGET', KEYS[key_base + s * 3 + 2], 'tokens', 'usd')
    local used = {tonumber(day[1]) or 0, tonumber(month[1]) or 0, tonumber(day[2]) or 0, tonumber(month[2]) or 0}
    for i = 1, 4 do
      local limit = tonumber(over[i]) or tonumber(ARGV[arg_base + s * 4 + i - 1])
      if limit >= 0 and used[i] >= limit then return {s, i, used[i], limit} end
    end
  end
  return nil
end
`;

// Adds to one usage hash. Zero amounts are not written (no price means no usd), and the expiry is
// set only when this write is the bucket's first (the field was 0 or absent): a hash keeps its TTL
// through later increments, so setting it on every call only cost Redis time.
const ADD_USAGE = `
local function add_usage(key, tokens, micro, expires_at)
  local first = false
  if tokens ~= '0' then first = redis.call('HINCRBY', key, 'tokens', tokens) == tonumber(tokens) end
  if micro ~= '0' then first = redis.call('HINCRBY', key, 'usd', micro) == tonumber(micro) or first end
  if first then redis.call('PEXPIREAT', key, expires_at) end
end
`;

/**
 * KEYS: pause, rate, then 3 per scope. ARGV: now, rate window ms, rate per window, event id,
 * scope count, then 4 limits per scope.
 */
export const ADMIT_SCRIPT = `${FIND_EXHAUSTED}
local now = tonumber(ARGV[1])
local pause = redis.call('HMGET', KEYS[1], 'paused', 'reason', 'at', 'by')
if pause[1] == '1' then return {'paused', pause[2] or '', pause[3] or '0', pause[4] or ''} end
local hit = find_exhausted(3, 6, tonumber(ARGV[5]))
if hit then return {'exhausted', hit[1], hit[2], hit[3], hit[4]} end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then return {'admitted'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'rate_limited', tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], window)
return {'admitted'}
`;

/** KEYS: 3 per scope. ARGV: tokens, micro-dollars, day expiry, month expiry, scope count, limits. */
export const RESERVE_SCRIPT = `${FIND_EXHAUSTED}${ADD_USAGE}
local scopes = tonumber(ARGV[5])
local hit = find_exhausted(1, 6, scopes)
if hit then return {'exhausted', hit[1], hit[2], hit[3], hit[4]} end
for s = 0, scopes - 1 do
  for p = 1, 2 do add_usage(KEYS[s * 3 + 1 + p], ARGV[1], ARGV[2], ARGV[2 + p]) end
end
return {'ok'}
`;

/**
 * Replaces a reservation with actual usage and adds the actual spend to this hour's bucket; then
 * the cost-spike breaker: when the last hour's spend is over the factor times the average hour of
 * the trailing baseline (hours before the last two, from the first recorded spend on) and over the
 * floor, new runs pause everywhere. It stays quiet for an hour after an admin resumes.
 * KEYS: 2 per scope (day, month usage), spend, pause. ARGV: token delta, micro delta, actual micro,
 * day expiry, month expiry, scope count, hour index, permille of the hour gone, factor, baseline
 * hours, floor in micro-dollars, now.
 */
export const SETTLE_SCRIPT = `${ADD_USAGE}
local scopes = tonumber(ARGV[6])
for s = 0, scopes - 1 do
  for p = 1, 2 do add_usage(KEYS[s * 2 + p], ARGV[1], ARGV[2], ARGV[3 + p]) end
end
local actual = tonumber(ARGV[3])
if actual <= 0 then return {'ok'} end
local spend = KEYS[scopes * 2 + 1]
local pause = KEYS[scopes * 2 + 2]
local hour = tonumber(ARGV[7])
local baseline_hours = tonumber(ARGV[10])
redis.call('HINCRBY', spend, tostring(hour), actual)
redis.call('HSETNX', spend, 'since', tostring(hour))
redis.call('HDEL', spend, tostring(hour - baseline_hours - 2))
redis.call('PEXPIRE', spend, (baseline_hours + 2) * 3600000)
local now = tonumber(ARGV[12])
local state = redis.call('HMGET', pause, 'paused', 'resumedAt')
if state[1] == '1' or (state[2] and now - tonumber(state[2]) < 3600000) then return {'ok'} end
local since = tonumber(redis.call('HGET', spend, 'since'))
local first = math.max(hour - 1 - baseline_hours, since)
local last = hour - 2
if last < first then return {'ok'} end
local fields = {tostring(hour), tostring(hour - 1)}
for h = first, last do fields[#fields + 1] = tostring(h) end
local values = redis.call('HMGET', spend, unpack(fields))
local last_hour = (tonumber(values[1]) or 0) + (tonumber(values[2]) or 0) * (1000 - tonumber(ARGV[8])) / 1000
local sum = 0
for i = 3, #values do sum = sum + (tonumber(values[i]) or 0) end
local baseline = sum / (last - first + 1)
local factor = tonumber(ARGV[9])
if last_hour <= tonumber(ARGV[11]) or last_hour <= factor * baseline then return {'ok'} end
local reason = string.format('spending in the last hour ($%.2f) is over %sx the usual $%.2f an hour', last_hour / 1e6, ARGV[9], baseline / 1e6)
redis.call('HSET', pause, 'paused', '1', 'reason', reason, 'at', ARGV[12], 'by', 'cost_spike')
redis.call('HDEL', pause, 'resumedAt', 'resumedBy')
return {'tripped', reason}
`;
