-- wrk script for bench_http.py: every connection (one per wrk thread) runs the subscriber's whole
-- sequence again and again — POST /v1/prechecks, POST /v1/requests, POST /v1/requests/{no}/confirm —
-- each time on its own next subscription, and times the sequence with a monotonic clock (LuaJIT ffi).
-- Arguments: the data file ("token msisdn subscription_id" per line) and the number of threads.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } cd_timespec;
  int clock_gettime(int clk_id, cd_timespec *tp);
]]
local ts = ffi.new("cd_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(args[2])
  rows = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == tid - 1 then rows[#rows + 1] = line end
    i = i + 1
  end
  idx, phase, errors, exhausted = 0, 0, 0, 0
  lat, statuses = {}, {}
end

local function fail(status)
  errors = errors + 1
  local key = tostring(phase) .. ":" .. tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  phase = 0
end

function request()
  if phase == 0 then
    idx = idx + 1
    local row = rows[idx]
    if row == nil then
      exhausted = exhausted + 1
      return wrk.format("GET", "/bench/bare")
    end
    token, msisdn, sub = row:match("(%S+) (%S+) (%S+)")
    body = '{"kind":"unsubscribe","msisdn":"' .. msisdn .. '","subscription_id":"' .. sub .. '"}'
    t0 = now()
    return wrk.format("POST", "/v1/prechecks",
      { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
  elseif phase == 1 then
    return wrk.format("POST", "/v1/requests",
      { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "bench-" .. sub }, body)
  else
    return wrk.format("POST", "/v1/requests/" .. tracking .. "/confirm",
      { ["Authorization"] = "Bearer " .. token })
  end
end

function response(status, headers, resp)
  if phase == 0 then
    if rows[idx] == nil then return end
    if status == 200 and resp:find('"eligible":%s*true') then phase = 1 else fail(status) end
  elseif phase == 1 then
    if status == 201 then
      tracking = resp:match('"tracking_no":%s*"([^"]+)"')
      if tracking then phase = 2 else fail(status) end
    else
      fail(status)
    end
  else
    if status == 200 then
      lat[#lat + 1] = now() - t0
      phase = 0
    else
      fail(status)
    end
  end
end

function done(summary, latency, requests)
  local all, errs, exh, st = {}, 0, 0, {}
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lat")) do all[#all + 1] = v end
    errs = errs + t:get("errors")
    exh = exh + t:get("exhausted")
    for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
  end
  table.sort(all)
  local function q(p)
    if #all == 0 then return 0 end
    return all[math.max(1, math.ceil(#all * p))] * 1000
  end
  io.write(string.format("SEQUENCES %d\nERRORS %d\nEXHAUSTED %d\nP50_MS %.1f\nP99_MS %.1f\n",
    #all, errs, exh, q(0.50), q(0.99)))
  for k, v in pairs(st) do io.write(string.format("FAILED %s %d\n", k, v)) end
end
