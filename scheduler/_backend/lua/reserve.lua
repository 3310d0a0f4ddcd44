-- Take or renew a cache_serialize reservation (DataCatalog's GetOrExtendReservation).
-- KEYS[1] reservations hash (field = cache key, value = "owner|expires_ms")
-- ARGV: cache key, owner, now_ms, expiry_ms, mode ("take" or "renew")
-- Returns the owner after the call: ARGV owner when it holds the reservation.
local current = redis.call('HGET', KEYS[1], ARGV[1])
local now = tonumber(ARGV[3])
if current then
  local sep = string.find(current, '|', 1, true)
  local owner = string.sub(current, 1, sep - 1)
  local expires = tonumber(string.sub(current, sep + 1))
  if owner ~= ARGV[2] and (ARGV[5] == 'renew' or expires > now) then
    return owner
  end
elseif ARGV[5] == 'renew' then
  -- Released meanwhile: a renewal never re-creates a reservation.
  return ''
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. (now + tonumber(ARGV[4])))
return ARGV[2]
