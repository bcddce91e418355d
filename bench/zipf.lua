-- Zipf-distributed visits over N distinct pages: page k (1..N) is asked with probability
-- proportional to 1 / k^s. Each wrk thread draws from its own seeded generator, so every system
-- measured gets the same sequence of requests.
--
--   wrk ... -s bench/zipf.lua <url> -- <pages = 1000000> <s = 1.0> <seed = 1>
local pages, s, seed = 1000000, 1.0, 1
local cdf
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

init = function(args)
  pages = tonumber(args[1] or pages)
  s = tonumber(args[2] or s)
  seed = tonumber(args[3] or seed)
  -- The cumulative weights, normalised: one table of N numbers a thread.
  cdf = {}
  local total = 0
  for k = 1, pages do
    total = total + 1 / k ^ s
    cdf[k] = total
  end
  for k = 1, pages do
    cdf[k] = cdf[k] / total
  end
  math.randomseed(seed * 1000 + (thread_id or 0))
end

-- The first page whose cumulative weight reaches u (binary search).
local function draw()
  local u = math.random()
  local lo, hi = 1, pages
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return lo
end

request = function()
  return wrk.format("GET", "/page/" .. draw())
end
