-- Extend the leases of tokens that are still held.
-- KEYS[1] holders
-- ARGV[1] lease (ms), ARGV[2..] tokens
-- Returns how many of the tokens were held (and renewed).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = now + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  -- An expired lease is not revived: the slot may already count as free.
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
