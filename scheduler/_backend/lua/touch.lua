-- The hot fields of records (claim, claimed at, next Get), written without their
-- documents; each record its own compare-and-set. Two modes, one call per batch:
--
-- "touch": write the hot fields the store computed (a claim, an unchanged poll).
--   ARGV[2..], five per record i: id, expected version, hot JSON, next Get score or ''
--   (leave the index), claimed-at score or ''. KEYS[2 + i] is record i.
--   Returns each record's new version, or -1 where it changed, is gone, or is still in
--   an earlier release's layout (the store rewrites such a record when it reads it).
-- "claim": claim the Gets due by now, reading only the records' routes: a record that
--   waits for a Get (web-API phase 2, no claim) is claimed for a Get, or a Handle if its
--   plugin is a core plugin; any other just leaves the index.
--   ARGV[2] now (ms), ARGV[3] now (us), ARGV[4] most to claim, ARGV[5] the records' key
--   prefix, ARGV[6..] the core plugins' ids. The records are named by the due index,
--   under the same hash tag as KEYS.
--   Returns five values per claimed record: id, attempt, plugin id, quota namespace (''
--   for none), step; and "id, '', '', '', read" for one in an earlier release's layout.
--
-- KEYS[1] due ZSET id -> next Get (ms), KEYS[2] claims ZSET id -> claimed at (ms).
-- A record is "<version>\n<route>\n<hot fields>\n<doc>" (see records.py). Its hot line is
-- padded with spaces to WIDTH, so a write that keeps the version's digits and fits the
-- hot line rewrites the record's head in place (SETRANGE): the document is neither read
-- nor copied, nor sent to the replicas. Any other write rewrites the record whole.
local out = {}
local WIDTH = 88  -- records.HOT_WIDTH
local HEAD = 511  -- bytes read for the head: a route is far shorter
local function place(key, score, id)
  if score == '' then
    redis.call('ZREM', key, id)
  else
    redis.call('ZADD', key, score, id)
  end
end
local function padded(hot, width)
  if #hot >= width then return hot end
  return hot .. string.rep(' ', width - #hot)
end
-- A record's version, route, hot line, and where its hot line ends (the document starts
-- after it); nil unless it is a string in this layout. The document is not read.
local function ends(value)
  local a = string.find(value, '\n', 1, true)
  local b = a and string.find(value, '\n', a + 1, true)
  return a, b, b and string.find(value, '\n', b + 1, true)
end
local function head(key)
  local value = redis.pcall('GETRANGE', key, 0, HEAD)
  if type(value) ~= 'string' then return nil, value end
  local a, b, c = ends(value)
  if not c then
    if value == '' then return nil, false end  -- gone
    -- A head longer than HEAD bytes, or not this layout: read it all.
    value = redis.call('GET', key)
    a, b, c = ends(value)
    if not c then return nil, value end
  end
  return tonumber(string.sub(value, 1, a - 1)), string.sub(value, a + 1, b - 1),
    string.sub(value, b + 1, c - 1), c
end
-- Write version + 1 and the hot line ``hot``: in place if it fits, else the whole record.
local function write(key, version, route, old, hot, c)
  local v = tostring(version + 1)
  if #v == #tostring(version) and #hot <= #old then
    redis.call('SETRANGE', key, 0, v .. '\n' .. route .. '\n' .. padded(hot, #old))
  else
    -- In flight, a record has no TTL; KEEPTTL all the same, so a write never adds one.
    local doc = string.sub(redis.call('GET', key), c + 1)
    redis.call('SET', key, v .. '\n' .. route .. '\n' .. padded(hot, WIDTH) .. '\n' .. doc,
      'KEEPTTL')
  end
  return version + 1
end

local function touch()
  for i = 3, #KEYS do
    local a = (i - 3) * 5 + 1
    local id = ARGV[a + 1]
    -- pcall: an earlier release's hash answers with an error, which head() refuses.
    local version, route, old, c = head(KEYS[i])
    if version == nil or version ~= tonumber(ARGV[a + 2]) then
      out[#out + 1] = -1
    else
      out[#out + 1] = write(KEYS[i], version, route, old, ARGV[a + 3], c)
      place(KEYS[1], ARGV[a + 4], id)
      place(KEYS[2], ARGV[a + 5], id)
    end
  end
end

local function claim()
  local now_ms, now_us, prefix = ARGV[2], ARGV[3], ARGV[5]
  local core = {}
  for i = 6, #ARGV do core[ARGV[i]] = true end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, tonumber(ARGV[4]))
  for _, id in ipairs(ids) do
    local key = prefix .. id
    local version, route, hot, c = head(key)
    if version == nil and type(route) == 'table' then
      for _, v in ipairs({id, '', '', '', 'read'}) do out[#out + 1] = v end
    elseif version == nil then
      redis.call('ZREM', KEYS[1], id)  -- gone (expired, or forgotten)
    else
      local r = cjson.decode(route)  -- attempt, plugin id, namespace, web-API phase
      local waiting = string.find(hot, '"claim":null', 1, true) and r[4] == 2
      local new
      if waiting then
        local step = core[r[2]] and 'handle' or 'get'
        new = '{"claim":"' .. step .. ':' .. r[1] .. '","claimed_at":' .. now_us
          .. ',"next_get_at":null}'
        redis.call('ZADD', KEYS[2], now_ms, id)
        local namespace = r[3] == cjson.null and '' or r[3]
        for _, v in ipairs({id, r[1], r[2], namespace, step}) do out[#out + 1] = v end
      else
        new = string.gsub(hot, '"next_get_at":%-?%d+', '"next_get_at":null')
      end
      redis.call('ZREM', KEYS[1], id)
      write(key, version, route, hot, new, c)
    end
  end
end

if ARGV[1] == 'claim' then claim() else touch() end
return out
