-- Publish the task types one process serves, and drop entries that have expired,
-- in one step: a check-then-delete from the client could remove an entry another
-- process refreshed in between.
-- KEYS[1] the served-types hash; ARGV[1] now (ms); ARGV[2..] field, value pairs,
-- each value "<plugin id>|<expiry ms>".
local now = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local current = redis.call('HGETALL', KEYS[1])
for i = 1, #current, 2 do
  local expiry = tonumber(string.match(current[i + 1], '|(%d+)$'))
  if expiry == nil or expiry < now then
    redis.call('HDEL', KEYS[1], current[i])
  end
end
return #current / 2
