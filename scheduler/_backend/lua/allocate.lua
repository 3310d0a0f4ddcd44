-- Take a quota token, atomically.
-- KEYS[1] quota     STRING  the namespace's registered quota
-- KEYS[2] holders   ZSET    token -> lease expiry (ms, Redis clock)
-- KEYS[3] owners    HASH    token -> project \31 domain
-- KEYS[4] projects  HASH    project -> tokens held
-- KEYS[5] domains   HASH    project \31 domain -> tokens held
-- KEYS[6] stats     HASH    grants, denials, reaps, releases
-- ARGV[1] token, ARGV[2] project, ARGV[3] domain,
-- ARGV[4] project cap (-1: none), ARGV[5] domain cap (-1: none), ARGV[6] lease (ms)
-- Returns {status, held}: status 0 unregistered, 1 granted, 2 exhausted, 3 scope cap exceeded.
local quota = redis.call('GET', KEYS[1])
if not quota then return {0, 0} end
quota = tonumber(quota)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Reap expired holders first, so a crashed holder's slot frees within its lease.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(expired) do
  local owner = redis.call('HGET', KEYS[3], tok)
  if owner then
    local project = string.match(owner, '^([^\31]*)')
    redis.call('HINCRBY', KEYS[4], project, -1)
    redis.call('HINCRBY', KEYS[5], owner, -1)
    redis.call('HDEL', KEYS[3], tok)
  end
  redis.call('ZREM', KEYS[2], tok)
  redis.call('HINCRBY', KEYS[6], 'reaps', 1)
end

local lease = tonumber(ARGV[6])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
  return {1, redis.call('ZCARD', KEYS[2])}
end
local held = redis.call('ZCARD', KEYS[2])
if held >= quota then
  redis.call('HINCRBY', KEYS[6], 'denials', 1)
  return {2, held}
end
local scope = ARGV[2] .. '\31' .. ARGV[3]
local project_cap = tonumber(ARGV[4])
if project_cap >= 0 and tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0') >= project_cap then
  redis.call('HINCRBY', KEYS[6], 'denials', 1)
  return {3, held}
end
local domain_cap = tonumber(ARGV[5])
if domain_cap >= 0 and tonumber(redis.call('HGET', KEYS[5], scope) or '0') >= domain_cap then
  redis.call('HINCRBY', KEYS[6], 'denials', 1)
  return {3, held}
end
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], scope)
redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
redis.call('HINCRBY', KEYS[5], scope, 1)
redis.call('HINCRBY', KEYS[6], 'grants', 1)
return {1, held + 1}
