-- Store new execution records, one or many: the only way a record comes to be. Each is a
-- plain submission (pending, in no other index); transition.lua changes it from then on.
-- KEYS[1] all (id -> created, ms), KEYS[2] pending, KEYS[3] due, KEYS[4] timeouts,
-- KEYS[5] claims, KEYS[6] finished (the indexes transition.lua names), KEYS[7] counts (see
-- transition.lua), then per record its record key and its events key.
-- ARGV[1] event cap, then per record six: id, the record after its version line
-- ("<route>\n<hot fields>\n<doc>"), its first event JSON, created (ms), pending (ms),
-- its counter.
-- Returns per record 1 (stored, version 1) or -1 (the id was taken).
local cap = tonumber(ARGV[1])
local out = {}
for i = 0, (#KEYS - 7) / 2 - 1 do
  local record, events, a = KEYS[8 + 2 * i], KEYS[9 + 2 * i], 1 + 6 * i
  local id = ARGV[a + 1]
  if redis.call('EXISTS', record) == 1 then
    out[i + 1] = -1
  else
    redis.call('SET', record, '1\n' .. ARGV[a + 2])
    redis.call('RPUSH', events, ARGV[a + 3])
    redis.call('LTRIM', events, -cap, -1)
    redis.call('PERSIST', events)
    redis.call('ZADD', KEYS[1], ARGV[a + 4], id)
    redis.call('ZADD', KEYS[2], ARGV[a + 5], id)
    redis.call('HINCRBY', KEYS[7], ARGV[a + 6], 1)
    -- A leftover of an expired execution of the same name must not linger.
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('ZREM', KEYS[5], id)
    redis.call('ZREM', KEYS[6], id)
    out[i + 1] = 1
  end
end
return out
