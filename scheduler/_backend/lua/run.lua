-- Take, start, renew or drop the run leases of a job's claimed steps: one call per job.
-- KEYS[1] runs (ZSET owner -> expiry ms), KEYS[2] run owners (HASH member -> owner),
-- KEYS[3] run members (HASH owner -> its members, one a line)
-- ARGV[1] "take" | "start" | "renew" | "drop", ARGV[2] owner, ARGV[3] now (ms),
-- ARGV[4] expiry (ms), ARGV[5] (start) the reservation's owner, ARGV[6..] the members
-- Returns, per member, 1 if the owner holds the lease afterwards (take, start, renew)
-- or dropped it, else 0.
--
-- The expiry is the owner's, not each member's: a job's leases live and lapse together,
-- so a call costs a few commands whatever the job's size (a member-by-member lease cost
-- Redis more than the step's own bookkeeping). A member held by an owner whose lease
-- has passed may be taken by anyone: its worker stopped renewing. "start" also takes
-- over the members reserved for this delivery; a run already going on (another owner)
-- keeps them.
local mode, owner, now, expiry = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local members = {}
for i = 6, #ARGV do
  members[#members + 1] = ARGV[i]
end
local out = {}
if #members == 0 then
  return out
end

-- Lua's unpack is bounded by its C stack: variadic commands go in slices (of an even
-- length, so HSET's field-value pairs stay together).
local SLICE = 4000
local function each_slice(list, fn)
  for first = 1, #list, SLICE do
    fn(unpack(list, first, math.min(first + SLICE - 1, #list)))
  end
end

local holders = {}
each_slice(members, function(...)
  local got = redis.call('HMGET', KEYS[2], ...)
  for i = 1, #got do
    holders[#holders + 1] = got[i]
  end
end)

if mode == 'renew' or mode == 'drop' then
  local mine = {}
  for i, member in ipairs(members) do
    if holders[i] == owner then
      out[i] = 1
      mine[#mine + 1] = member
    else
      out[i] = 0
    end
  end
  if mode == 'renew' then
    if #mine > 0 then
      redis.call('ZADD', KEYS[1], expiry, owner)
    else  -- of all it took, it holds nothing any more (taken over): its lease goes
      redis.call('ZREM', KEYS[1], owner)
      redis.call('HDEL', KEYS[3], owner)
    end
  else  -- a job drops its leases as it ends (all of them): the owner's lease goes too
    each_slice(mine, function(...) redis.call('HDEL', KEYS[2], ...) end)
    redis.call('ZREM', KEYS[1], owner)
    redis.call('HDEL', KEYS[3], owner)
  end
  return out
end

-- take or start: a member is free, its holder's lease lapsed, it is ours already, or
-- (start) it is the reservation this run takes over.
local reserved = mode == 'start' and ARGV[5] or false
local expiries = {}  -- holder -> its lease's expiry, or false (few holders per job)
local taken, pairs_ = {}, {}
for i, member in ipairs(members) do
  local holder = holders[i]
  local free = true
  if holder and holder ~= owner and holder ~= reserved then
    if expiries[holder] == nil then
      expiries[holder] = redis.call('ZSCORE', KEYS[1], holder)
    end
    -- A holder without a score of its own holds a lease of the layout before leases were
    -- kept by owner, whose expiry is the member's.
    local until_ = expiries[holder] or redis.call('ZSCORE', KEYS[1], member) or '0'
    free = tonumber(until_) <= now
  end
  if free then
    out[i] = 1
    taken[#taken + 1] = member
    pairs_[#pairs_ + 1] = member
    pairs_[#pairs_ + 1] = owner
  else
    out[i] = 0
  end
end
if #taken > 0 then
  each_slice(pairs_, function(...) redis.call('HSET', KEYS[2], ...) end)
  redis.call('ZADD', KEYS[1], expiry, owner)
  local listed = redis.call('HGET', KEYS[3], owner)
  local lines = table.concat(taken, '\n')
  redis.call('HSET', KEYS[3], owner, listed and (listed .. '\n' .. lines) or lines)
end
return out
