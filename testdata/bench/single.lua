-- wrk script: single-flag OFREP evaluation with a targeting key that varies
-- over 100,000 users, so the split is exercised, not a cache.
-- Usage: wrk -s single.lua URL/ofrep/v1/evaluate/flags/FLAG
local key = os.getenv("RAMP_KEY") or ""
local counter = 0
local regions = {"US", "CA", "BR", "FR", "MX", "IN"}

request = function()
  counter = counter + 1
  local body = string.format(
    '{"context":{"targetingKey":"user-%d","region":"%s","appVersion":"%d.1.0","accountCenterId":"ac-%d"}}',
    counter % 100000, regions[counter % #regions + 1], 290 + counter % 30, counter % 50000)
  local headers = {["Content-Type"] = "application/json"}
  if key ~= "" then headers["Authorization"] = "Bearer " .. key end
  return wrk.format("POST", nil, headers, body)
end
