-- Write only the hot fields (claim, claimed at, next Get) of many records, each its own
-- compare-and-set, and move them in the due and claims indexes: one call per batch.
-- KEYS[1] due       ZSET  id -> next Get (ms)
-- KEYS[2] claims    ZSET  id -> claimed at (ms)
-- KEYS[2 + i]       HASH  record i: v (CAS version), doc, h (the hot fields, JSON)
-- ARGV, five per record i from 5 * (i - 1) + 1: id, expected version, hot JSON,
-- next Get score or '' (leave the index), claimed-at score or ''
-- Returns each record's new version, or -1 where it changed (or is gone).
local out = {}
local function place(key, score, id)
  if score == '' then
    redis.call('ZREM', key, id)
  else
    redis.call('ZADD', key, score, id)
  end
end
for i = 3, #KEYS do
  local a = (i - 3) * 5
  local id = ARGV[a + 1]
  local current = tonumber(redis.call('HGET', KEYS[i], 'v') or '0')
  if current == 0 or current ~= tonumber(ARGV[a + 2]) then
    out[#out + 1] = -1
  else
    redis.call('HSET', KEYS[i], 'v', current + 1, 'h', ARGV[a + 3])
    place(KEYS[1], ARGV[a + 4], id)
    place(KEYS[2], ARGV[a + 5], id)
    out[#out + 1] = current + 1
  end
end
return out
