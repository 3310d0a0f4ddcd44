-- Give a quota token back; releasing a token that is not held does nothing.
-- KEYS[1] holders, KEYS[2] owners, KEYS[3] projects, KEYS[4] domains, KEYS[5] stats
-- ARGV[1] token
-- Returns 1 when the token was held, else 0.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if owner then
  local project = string.match(owner, '^([^\31]*)')
  redis.call('HINCRBY', KEYS[3], project, -1)
  redis.call('HINCRBY', KEYS[4], owner, -1)
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[5], 'releases', 1)
return 1
