-- A GCRA token bucket: a sustained rate of one call per interval, up to burst at once.
-- KEYS[1] the theoretical arrival time (microseconds, Redis clock)
-- ARGV[1] interval (microseconds), ARGV[2] burst, ARGV[3] calls wanted (default 1)
-- Grants as many of the wanted calls as the bucket allows now, at least none.
-- Returns {calls granted, microseconds to wait before the next call would be allowed}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3] or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
-- Call k is allowed while tat + k * interval - burst * interval <= now.
local granted = math.floor((now - tat) / interval) + burst
if granted > wanted then granted = wanted end
if granted <= 0 then
  return {0, math.ceil(tat + interval - burst * interval - now)}
end
local new_tat = tat + granted * interval
-- %.0f keeps every digit; tostring would round a 16-digit number to 14.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
  math.ceil((new_tat - now) / 1000) + 1000)
local next_at = new_tat + interval - burst * interval
local wait = 0
if next_at > now then wait = math.ceil(next_at - now) end
return {granted, wait}
