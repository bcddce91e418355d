-- Keeps a stamp only if it is newer than the one stored, and keeps the hash bounded.
-- KEYS[1] the stamps hash. ARGV[1] field, ARGV[2] stamp, ARGV[3] the most fields kept,
-- ARGV[4] and ARGV[5] the fields of "everything, expire" and "everything, stale".
-- Returns how many fields were folded.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) <= tonumber(ARGV[3]) then
  return 0
end
local all = redis.call('HGETALL', KEYS[1])
local stamps = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[4] and all[i] ~= ARGV[5] then
    stamps[#stamps + 1] = tonumber(all[i + 1])
  end
end
table.sort(stamps)
local cutoff = stamps[math.floor(#stamps / 2) + 1]
local into = {}
into[ARGV[4]] = redis.call('HGET', KEYS[1], ARGV[4])
into[ARGV[5]] = redis.call('HGET', KEYS[1], ARGV[5])
local folded = 0
for i = 1, #all, 2 do
  local field, stamp = all[i], all[i + 1]
  if field ~= ARGV[4] and field ~= ARGV[5] and tonumber(stamp) <= cutoff then
    local target = ARGV[4]
    if string.find(field, '"mode":"stale"', 1, true) then
      target = ARGV[5]
    end
    if (not into[target]) or tonumber(into[target]) < tonumber(stamp) then
      into[target] = stamp
    end
    redis.call('HDEL', KEYS[1], field)
    folded = folded + 1
  end
end
for _, field in ipairs({ARGV[4], ARGV[5]}) do
  if into[field] then
    redis.call('HSET', KEYS[1], field, into[field])
  end
end
return folded
