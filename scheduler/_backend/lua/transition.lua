-- Compare-and-set one execution record, and move it between the indexes, atomically.
-- Records come to be only in create.lua; this script changes one that exists.
-- KEYS[1] record    STRING "<version>\n<route>\n<hot fields>\n<doc>" (see records.py;
--                   an earlier release's HASH v, doc is read, and replaced)
-- KEYS[2] events    LIST  event JSON, capped
-- KEYS[3] pending   ZSET  id -> may start at (ms)
-- KEYS[4] due       ZSET  id -> next Get (ms)
-- KEYS[5] timeouts  ZSET  id -> attempt deadline (ms)
-- KEYS[6] claims    ZSET  id -> claimed at (ms)
-- KEYS[7] finished  ZSET  id -> finished at (ms)
-- KEYS[8] old waiting ZSET (the namespace the record waited in, or KEYS[9])
-- KEYS[9] new waiting ZSET id -> waiting since (ms)
-- KEYS[10] counts   HASH  "<task type>|<phase>" -> executions (open phases: now in it;
--                   terminal ones: ever finished in it, for the metrics)
-- ARGV[1] id, ARGV[2] expected version (at least 1), ARGV[3] doc,
-- ARGV[4] a JSON array of event JSON strings to log, ARGV[5] event cap,
-- ARGV[6] pending, ARGV[7] due, ARGV[8] deadline, ARGV[9] claimed, ARGV[10] finished,
-- ARGV[11] waiting: each a score, or '' to leave that index,
-- ARGV[12] retention of finished records (s), ARGV[13] route, ARGV[14] hot fields,
-- ARGV[15] the counter the record leaves ('' for none), ARGV[16] the one it enters,
-- ARGV[17] the execution's done channel: told the final phase when the record ends
-- Returns the new version, -1 on a version conflict (or no such record).
local kind = redis.call('TYPE', KEYS[1])['ok']
local current = 0
if kind == 'string' then
  current = tonumber(string.match(redis.call('GETRANGE', KEYS[1], 0, 24), '^(%d+)\n'))
elseif kind == 'hash' then
  current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
end
if current == 0 or current ~= tonumber(ARGV[2]) then return -1 end
local version = current + 1
redis.call('SET', KEYS[1], version .. '\n' .. ARGV[13] .. '\n' .. ARGV[14] .. '\n' .. ARGV[3])
local events = cjson.decode(ARGV[4])
if #events > 0 then
  redis.call('RPUSH', KEYS[2], unpack(events))
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
end
if ARGV[15] ~= ARGV[16] then
  -- Never below zero: records written before these counts existed leave uncounted.
  if ARGV[15] ~= '' and redis.call('HINCRBY', KEYS[10], ARGV[15], -1) < 0 then
    redis.call('HSET', KEYS[10], ARGV[15], 0)
  end
  redis.call('HINCRBY', KEYS[10], ARGV[16], 1)
end
local id = ARGV[1]
local function place(key, score, flag)
  if score == '' then
    redis.call('ZREM', key, id)
  elseif flag then
    redis.call('ZADD', key, flag, score, id)
  else
    redis.call('ZADD', key, score, id)
  end
end
place(KEYS[3], ARGV[6], nil)
place(KEYS[4], ARGV[7], nil)
place(KEYS[5], ARGV[8], nil)
place(KEYS[6], ARGV[9], nil)
place(KEYS[7], ARGV[10], nil)
if KEYS[8] ~= KEYS[9] then redis.call('ZREM', KEYS[8], id) end
place(KEYS[9], ARGV[11], 'NX')
if ARGV[10] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[12])
  redis.call('EXPIRE', KEYS[2], ARGV[12])
  redis.call('PUBLISH', ARGV[17], ARGV[16])
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return version
