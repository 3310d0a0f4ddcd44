-- A GCRA token bucket: a sustained rate of one call per interval, up to burst at once.
-- KEYS[1] the theoretical arrival time (microseconds, Redis clock)
-- ARGV[1] interval (microseconds), ARGV[2] burst
-- Returns {allowed (1/0), microseconds to wait before a call would be allowed}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
-- %.0f keeps every digit; tostring would round a 16-digit number to 14.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
  math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
