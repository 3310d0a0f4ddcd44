-- Take, start, renew or drop the run lease of one claimed step.
-- KEYS[1] runs (ZSET member -> expiry ms), KEYS[2] run owners (HASH member -> owner)
-- ARGV[1] "take" | "start" | "renew" | "drop", ARGV[2] member, ARGV[3] owner,
-- ARGV[4] now (ms), ARGV[5] expiry (ms), ARGV[6] (start) the reservation's owner
-- Returns 1 if the owner holds the lease afterwards (take, start, renew) or dropped it,
-- else 0. A lease whose expiry has passed may be taken by anyone: its worker stopped
-- renewing. "start" also takes over the lease from the reservation made for this
-- delivery; a run already going on (another owner) keeps it.
local member, owner, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local holder = redis.call('HGET', KEYS[2], member)
local expiry = tonumber(redis.call('ZSCORE', KEYS[1], member) or '0')
if ARGV[1] == 'take' or ARGV[1] == 'start' then
  local reserved = ARGV[1] == 'start' and ARGV[6] ~= '' and holder == ARGV[6]
  if holder and holder ~= owner and not reserved and expiry > now then
    return 0
  end
  redis.call('ZADD', KEYS[1], ARGV[5], member)
  redis.call('HSET', KEYS[2], member, owner)
  return 1
end
if holder ~= owner then
  return 0
end
if ARGV[1] == 'renew' then
  redis.call('ZADD', KEYS[1], ARGV[5], member)
else
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
end
return 1
