-- Release a cache_serialize reservation if ARGV[2] still owns it.
-- KEYS[1] reservations hash; ARGV: cache key, owner. Returns 1 when released.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
local sep = string.find(current, '|', 1, true)
if string.sub(current, 1, sep - 1) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
