-- Drop run leases that expired by ARGV[1] (ms): their workers stopped renewing them.
-- KEYS[1] runs (ZSET owner -> expiry ms), KEYS[2] run owners (HASH member -> owner),
-- KEYS[3] run members (HASH owner -> its members, one a line)
-- ARGV[1] now (ms), ARGV[2] the most members to return (an owner's are never split)
-- Returns the dropped members: those of each lapsed owner that it still held.
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local most = tonumber(ARGV[2])
local dropped = {}
for _, owner in ipairs(expired) do
  if #dropped >= most then
    break
  end
  local listed = redis.call('HGET', KEYS[3], owner)
  local members = {}
  if listed then
    for member in string.gmatch(listed, '[^\n]+') do
      members[#members + 1] = member
    end
  elseif string.find(owner, '|', 1, true) then
    -- A lease of the layout before leases were kept by owner: the member itself.
    members[1] = owner
  end
  for _, member in ipairs(members) do
    local holder = redis.call('HGET', KEYS[2], member)
    -- An old-layout step is dropped unless an owner of this layout took it over since.
    local old = not listed and holder and not redis.call('ZSCORE', KEYS[1], holder)
    if holder == owner or old then
      redis.call('HDEL', KEYS[2], member)
      dropped[#dropped + 1] = member
    end
  end
  redis.call('ZREM', KEYS[1], owner)
  redis.call('HDEL', KEYS[3], owner)
end
return dropped
