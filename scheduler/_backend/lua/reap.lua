-- Drop holders whose lease expired, freeing their slots.
-- KEYS[1] holders, KEYS[2] owners, KEYS[3] projects, KEYS[4] domains, KEYS[5] stats
-- Returns the reaped tokens.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, tok in ipairs(expired) do
  local owner = redis.call('HGET', KEYS[2], tok)
  if owner then
    local project = string.match(owner, '^([^\31]*)')
    redis.call('HINCRBY', KEYS[3], project, -1)
    redis.call('HINCRBY', KEYS[4], owner, -1)
    redis.call('HDEL', KEYS[2], tok)
  end
  redis.call('ZREM', KEYS[1], tok)
  redis.call('HINCRBY', KEYS[5], 'reaps', 1)
end
return expired
