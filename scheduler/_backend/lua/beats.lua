-- Say a scheduler process is alive, and list every live one (on Redis's clock).
-- KEYS[1] beats ZSET owner -> expiry (ms)
-- ARGV[1] owner id, ARGV[2] lease (ms); "leave" as ARGV[2] takes the owner out.
-- Returns the live owners, in order of their ids.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[2] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
local owners = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(owners)
return owners
