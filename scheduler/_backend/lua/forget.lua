-- Drop finished executions past their retention from the listing indexes.
-- KEYS[1] all ZSET, KEYS[2] finished ZSET
-- ARGV[1] cutoff (ms): finished before it, ARGV[2] at most this many
-- Returns how many were dropped. Their records and event logs expire on their own.
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #ids
