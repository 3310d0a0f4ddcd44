-- Take, start, renew or drop the run leases of a job's claimed steps: one call per job.
-- KEYS[1] runs (ZSET member -> expiry ms), KEYS[2] run owners (HASH member -> owner)
-- ARGV[1] "take" | "start" | "renew" | "drop", ARGV[2] owner, ARGV[3] now (ms),
-- ARGV[4] expiry (ms), ARGV[5] (start) the reservation's owner, ARGV[6..] the members
-- Returns, per member, 1 if the owner holds the lease afterwards (take, start, renew)
-- or dropped it, else 0. A lease whose expiry has passed may be taken by anyone: its
-- worker stopped renewing. "start" also takes over the lease from the reservation made
-- for this delivery; a run already going on (another owner) keeps it.
local mode, owner, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function one(member)
  local holder = redis.call('HGET', KEYS[2], member)
  if mode == 'take' or mode == 'start' then
    local reserved = mode == 'start' and ARGV[5] ~= '' and holder == ARGV[5]
    local expiry = tonumber(redis.call('ZSCORE', KEYS[1], member) or '0')
    if holder and holder ~= owner and not reserved and expiry > now then
      return 0
    end
    redis.call('ZADD', KEYS[1], ARGV[4], member)
    redis.call('HSET', KEYS[2], member, owner)
    return 1
  end
  if holder ~= owner then
    return 0
  end
  if mode == 'renew' then
    redis.call('ZADD', KEYS[1], ARGV[4], member)
  else
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
  end
  return 1
end
local out = {}
for i = 6, #ARGV do
  out[#out + 1] = one(ARGV[i])
end
return out
