-- A new path for every request: every request is a MISS (and, through the cache, a new entry).
-- The paths start with an id of this run (`wrk ... -s bench/unique.lua <url> -- <id>`, or the
-- time by default), so a second run against the same server does not ask for the first run's
-- pages again (LuaJIT's `math.random` is not seeded: every run would draw the same number).
local n = 0
local id = tostring(os.time())
init = function(args)
  if args[1] then
    id = args[1]
  end
end
request = function()
  n = n + 1
  return wrk.format("GET", "/miss/" .. id .. "-" .. n)
end
