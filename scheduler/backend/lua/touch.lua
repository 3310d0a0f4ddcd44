-- Write only the hot fields (claim, claimed at, next Get) of many records, each its own
-- compare-and-set, and move them in the due and claims indexes: one call per batch.
-- KEYS[1] due       ZSET  id -> next Get (ms)
-- KEYS[2] claims    ZSET  id -> claimed at (ms)
-- KEYS[2 + i]       STRING record i: "<version>\n<hot fields JSON>\n<doc>" (an earlier
--                   release's HASH v, doc is rewritten in this layout)
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
-- The version and the document of a record, in either layout; nil if there is none.
local function read(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'string' then
    local value = redis.call('GET', key)
    local first = string.find(value, '\n', 1, true)
    local second = string.find(value, '\n', first + 1, true)
    return tonumber(string.sub(value, 1, first - 1)), string.sub(value, second + 1)
  elseif kind == 'hash' then
    local old = redis.call('HMGET', key, 'v', 'doc')
    return tonumber(old[1]), old[2]
  end
  return nil, nil
end
for i = 3, #KEYS do
  local a = (i - 3) * 5
  local id = ARGV[a + 1]
  local current, doc = read(KEYS[i])
  if current == nil or current ~= tonumber(ARGV[a + 2]) then
    out[#out + 1] = -1
  else
    -- In flight, a record has no TTL; KEEPTTL all the same, so a write never adds one.
    redis.call('SET', KEYS[i], (current + 1) .. '\n' .. ARGV[a + 3] .. '\n' .. doc, 'KEEPTTL')
    place(KEYS[1], ARGV[a + 4], id)
    place(KEYS[2], ARGV[a + 5], id)
    out[#out + 1] = current + 1
  end
end
return out
