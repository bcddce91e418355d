-- Deletes the lock only if this caller's token still holds it.
-- KEYS[1] the lock. ARGV[1] the token. Returns how many keys were deleted (0 or 1).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
