-- Take or keep a leadership lease.
-- KEYS[1] the lease key
-- ARGV[1] owner id, ARGV[2] lease (ms)
-- Returns 1 if ARGV[1] holds the lease now (taken or renewed), else 0.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
