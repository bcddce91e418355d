-- A new path for every request: every request is a MISS (and, through the cache, a new entry).
local n = 0
local id = tostring(math.random(1, 1000000000))
request = function()
  n = n + 1
  return wrk.format("GET", "/miss/" .. id .. "-" .. n)
end
