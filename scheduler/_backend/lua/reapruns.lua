-- Drop run leases that expired by ARGV[1] (ms): their workers stopped renewing them.
-- KEYS[1] runs (ZSET member -> expiry ms), KEYS[2] run owners (HASH member -> owner)
-- ARGV[1] now (ms), ARGV[2] the most to drop
-- Returns the dropped members.
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
end
return expired
