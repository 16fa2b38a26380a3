/**
 * The budget's Lua scripts. Every scope has three keys, in this order: its overrides hash, this
 * day's usage hash and this month's usage hash (fields `tokens` and `usd`, the latter in
 * micro-dollars). Limits arrive per scope as four numbers in LIMIT_KEYS order (tokensPerDay,
 * tokensPerMonth, usdPerDay, usdPerMonth), -1 for none; an override field wins.
 *
 * What stays the same for a run's calls travels as two arguments the store builds once per scope
 * set and day: the expiries, scope count, limits and breaker settings comma-separated, and the
 * scopes' keys as a "key shape" the scripts expand (scope_keys). Sending nine full key names with
 * every call was most of the bytes a model call cost, and every byte is encoded by the client. So
 * these scripts touch keys they are not passed, which a single Redis allows; Steward does not run
 * on Redis Cluster (its other scripts already span keys of different slots).
 */

const SPLIT = `
local function split(list, pattern)
  local values = {}
  for value in string.gmatch(list, pattern or '[^,]+') do values[#values + 1] = value end
  return values
end

-- "limits stem\\nusage stem\\nday\\nmonth\\nscope…" (budgetKeyShape): each scope's overrides hash,
-- day usage and month usage, 3 keys per scope in scope order.
local function scope_keys(key_shape)
  local parts = split(key_shape, '[^\\n]+')
  local keys = {}
  for i = 5, #parts do
    keys[#keys + 1] = parts[1] .. parts[i]
    keys[#keys + 1] = parts[2] .. parts[i] .. ':' .. parts[3]
    keys[#keys + 1] = parts[2] .. parts[i] .. ':' .. parts[4]
  end
  return keys
end
`;

// Returns {scopeIndex, limitIndex, used, limit} (0-based scope, 1-based limit) for the first limit
// already used up, or nil. A limit is used up once usage reaches it: a call is let through while
// anything is left, which is why concurrent runs overshoot by at most one reservation.
const FIND_EXHAUSTED = `
local function find_exhausted(keys, limits, limit_base, scopes)
  for s = 0, scopes - 1 do
    local over = redis.call('HMGET', keys[s * 3 + 1], 'tokensPerDay', 'tokensPerMonth', 'usdPerDay', 'usdPerMonth')
    local day = redis.call('HMGET', keys[s * 3 + 2], 'tokens', 'usd')
    local month = redis.call('HMGET', keys[s * 3 + 3], 'tokens', 'usd')
    local used = {tonumber(day[1]) or 0, tonumber(month[1]) or 0, tonumber(day[2]) or 0, tonumber(month[2]) or 0}
    for i = 1, 4 do
      local limit = tonumber(over[i]) or tonumber(limits[limit_base + s * 4 + i - 1])
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
 * KEYS: pause, rate. ARGV: now, rate window ms, rate per window, event id, "scope count,limits…"
 * (4 limits per scope), key shape.
 */
export const ADMIT_SCRIPT = `${SPLIT}${FIND_EXHAUSTED}
local now = tonumber(ARGV[1])
local pause = redis.call('HMGET', KEYS[1], 'paused', 'reason', 'at', 'by')
if pause[1] == '1' then return {'paused', pause[2] or '', pause[3] or '0', pause[4] or ''} end
local shape = split(ARGV[5])
local hit = find_exhausted(scope_keys(ARGV[6]), shape, 2, tonumber(shape[1]))
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

// Reserves against every scope (keys as scope_keys gives them) unless a limit is used up.
const RESERVE = `
local function reserve(keys, tokens, micro, shape)
  local scopes = tonumber(shape[3])
  local hit = find_exhausted(keys, shape, 4, scopes)
  if hit then return {'exhausted', hit[1], hit[2], hit[3], hit[4]} end
  for s = 0, scopes - 1 do
    for p = 1, 2 do add_usage(keys[s * 3 + 1 + p], tokens, micro, shape[p]) end
  end
  return {'ok'}
end
`;

/**
 * Replaces a reservation with actual usage and adds the actual spend to this hour's bucket; then
 * the cost-spike breaker: when the last hour's spend is over the factor times the average hour of
 * the trailing baseline (hours before the last two, from the first recorded spend on) and over the
 * floor, new runs pause everywhere. It stays quiet for an hour after an admin resumes.
 * usage_key(s, p) names scope s's day (p = 1) or month (p = 2) usage hash.
 */
const SETTLE = `
local function settle(usage_key, spend, pause, tokens, micro, actual_text, now_text, shape)
  local scopes = tonumber(shape[3])
  for s = 0, scopes - 1 do
    for p = 1, 2 do add_usage(usage_key(s, p), tokens, micro, shape[p]) end
  end
  local actual = tonumber(actual_text)
  if actual <= 0 then return {'ok'} end
  local now = tonumber(now_text)
  local hour = math.floor(now / 3600000)
  local gone = math.floor((now % 3600000) * 1000 / 3600000)
  local baseline_hours = tonumber(shape[5])
  local this_hour = redis.call('HINCRBY', spend, tostring(hour), actual)
  if this_hour == actual then
    -- The hour's first spend: its bookkeeping once an hour rather than with every call.
    redis.call('HSETNX', spend, 'since', tostring(hour))
    redis.call('HDEL', spend, tostring(hour - baseline_hours - 2))
    redis.call('PEXPIRE', spend, (baseline_hours + 2) * 3600000)
  end
  -- Under the floor nothing can trip: the common case costs one more read, not the baseline's.
  local previous = tonumber(redis.call('HGET', spend, tostring(hour - 1))) or 0
  local last_hour = this_hour + previous * (1000 - gone) / 1000
  if last_hour <= tonumber(shape[6]) then return {'ok'} end
  local state = redis.call('HMGET', pause, 'paused', 'resumedAt')
  if state[1] == '1' or (state[2] and now - tonumber(state[2]) < 3600000) then return {'ok'} end
  local since = tonumber(redis.call('HGET', spend, 'since'))
  local first = math.max(hour - 1 - baseline_hours, since)
  local last = hour - 2
  if last < first then return {'ok'} end
  local fields = {}
  for h = first, last do fields[#fields + 1] = tostring(h) end
  local values = redis.call('HMGET', spend, unpack(fields))
  local sum = 0
  for i = 1, #values do sum = sum + (tonumber(values[i]) or 0) end
  local baseline = sum / (last - first + 1)
  local factor = tonumber(shape[4])
  if last_hour <= factor * baseline then return {'ok'} end
  local reason = string.format('spending in the last hour ($%.2f) is over %sx the usual $%.2f an hour', last_hour / 1e6, shape[4], baseline / 1e6)
  redis.call('HSET', pause, 'paused', '1', 'reason', reason, 'at', now_text, 'by', 'cost_spike')
  redis.call('HDEL', pause, 'resumedAt', 'resumedBy')
  return {'tripped', reason}
end
`;

/** ARGV: tokens, micro-dollars, "day expiry,month expiry,scope count,limits…", key shape. */
export const RESERVE_SCRIPT = `${SPLIT}${FIND_EXHAUSTED}${ADD_USAGE}${RESERVE}
return reserve(scope_keys(ARGV[4]), ARGV[1], ARGV[2], split(ARGV[3]))
`;

/**
 * KEYS: spend, pause. ARGV: token delta, micro delta, actual micro, now, "day expiry,month
 * expiry,scope count,factor,baseline hours,floor in micro-dollars", key shape.
 */
export const SETTLE_SCRIPT = `${SPLIT}${ADD_USAGE}${SETTLE}
local keys = scope_keys(ARGV[6])
local function usage_key(s, p) return keys[s * 3 + 1 + p] end
return settle(usage_key, KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], split(ARGV[5]))
`;

/**
 * A run's settlement and its next reservation in one call (they charge the same scopes): the
 * settlement first, so the reservation is checked against what the last call really used.
 * KEYS: spend, pause. ARGV: SETTLE's first five, RESERVE's first three, key shape.
 * Returns the reservation's reply followed by the settlement's.
 */
export const SETTLE_AND_RESERVE_SCRIPT = `${SPLIT}${FIND_EXHAUSTED}${ADD_USAGE}${RESERVE}${SETTLE}
local keys = scope_keys(ARGV[9])
local function usage_key(s, p) return keys[s * 3 + 1 + p] end
local settled = settle(usage_key, KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], split(ARGV[5]))
local reserved = reserve(keys, ARGV[6], ARGV[7], split(ARGV[8]))
return {reserved, settled}
`;
