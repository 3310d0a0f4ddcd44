-- Compare-and-set one execution record, and move it between the indexes, atomically.
-- KEYS[1] record    STRING "<version>\n<route>\n<hot fields>\n<doc>" (see records.py;
--                   an earlier release's HASH v, doc is read, and replaced)
-- KEYS[2] events    LIST  event JSON, capped
-- KEYS[3] all       ZSET  id -> created (ms)
-- KEYS[4] pending   ZSET  id -> may start at (ms)
-- KEYS[5] due       ZSET  id -> next Get (ms)
-- KEYS[6] timeouts  ZSET  id -> attempt deadline (ms)
-- KEYS[7] claims    ZSET  id -> claimed at (ms)
-- KEYS[8] finished  ZSET  id -> finished at (ms)
-- KEYS[9] old waiting ZSET (the namespace the record waited in, or KEYS[10])
-- KEYS[10] new waiting ZSET id -> waiting since (ms)
-- ARGV[1] id, ARGV[2] expected version (0: must not exist), ARGV[3] doc,
-- ARGV[4] a JSON array of event JSON strings to log, ARGV[5] event cap,
-- ARGV[6] created, ARGV[7] pending, ARGV[8] due, ARGV[9] deadline, ARGV[10] claimed,
-- ARGV[11] finished, ARGV[12] waiting: each a score, or '' to leave that index,
-- ARGV[13] retention of finished records (s), ARGV[14] route, ARGV[15] hot fields,
-- ARGV[16] the counter the record leaves ('' for none), ARGV[17] the one it enters,
-- ARGV[18] the execution's done channel: told the final phase when the record ends
-- KEYS[11] counts    HASH  "<task type>|<phase>" -> executions (open phases: now in it;
--                   terminal ones: ever finished in it, for the metrics)
-- Returns the new version, -1 on a version conflict.
local kind = redis.call('TYPE', KEYS[1])['ok']
local current = 0
if kind == 'string' then
  current = tonumber(string.match(redis.call('GETRANGE', KEYS[1], 0, 24), '^(%d+)\n'))
elseif kind == 'hash' then
  current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
end
if current ~= tonumber(ARGV[2]) then return -1 end
local version = current + 1
redis.call('SET', KEYS[1], version .. '\n' .. ARGV[14] .. '\n' .. ARGV[15] .. '\n' .. ARGV[3])
local events = cjson.decode(ARGV[4])
if #events > 0 then
  redis.call('RPUSH', KEYS[2], unpack(events))
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
end
if ARGV[16] ~= ARGV[17] then
  -- Never below zero: records written before these counts existed leave uncounted.
  if ARGV[16] ~= '' and redis.call('HINCRBY', KEYS[11], ARGV[16], -1) < 0 then
    redis.call('HSET', KEYS[11], ARGV[16], 0)
  end
  redis.call('HINCRBY', KEYS[11], ARGV[17], 1)
end
local id = ARGV[1]
if current == 0 then redis.call('ZADD', KEYS[3], ARGV[6], id) end
local function place(key, score, flag)
  if score == '' then
    redis.call('ZREM', key, id)
  elseif flag then
    redis.call('ZADD', key, flag, score, id)
  else
    redis.call('ZADD', key, score, id)
  end
end
place(KEYS[4], ARGV[7], nil)
place(KEYS[5], ARGV[8], nil)
place(KEYS[6], ARGV[9], nil)
place(KEYS[7], ARGV[10], nil)
place(KEYS[8], ARGV[11], nil)
if KEYS[9] ~= KEYS[10] then redis.call('ZREM', KEYS[9], id) end
place(KEYS[10], ARGV[12], 'NX')
if ARGV[11] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[13])
  redis.call('EXPIRE', KEYS[2], ARGV[13])
  redis.call('PUBLISH', ARGV[18], ARGV[17])
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return version
