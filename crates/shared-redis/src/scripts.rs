//! The Lua scripts run on Redis: one sliding-window step (prune, sum, check, add) and the
//! cluster view (window sums and breakers in one round trip).
//!
//! Both read the time from Redis (`TIME`), so the instances' clocks never have to agree.
//! A window is a hash of buckets, each 1/60 of the span (at least 1 ms), keyed by bucket
//! number; buckets older than the span are deleted as they are met, and the key expires
//! one span (plus a bucket) after its last write. Sums travel as strings, since Redis turns
//! a Lua number into an integer.

/// `KEYS[1]` the window; `ARGV` span (ms), limit, amount, mode: `fits` (refuse when
/// sum + amount > limit), `below` (refuse when sum >= limit), `add` (no check).
/// Answers `{admitted (0|1), sum after}`.
pub(crate) const WINDOW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local mode = ARGV[4]
local bucket = math.max(math.floor(span / 60), 1)
local idx = math.floor(now / bucket)
local oldest = idx - math.floor(span / bucket) + 1
local h = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #h, 2 do
  if tonumber(h[i]) < oldest then
    redis.call('HDEL', KEYS[1], h[i])
  else
    sum = sum + tonumber(h[i + 1])
  end
end
if mode == 'fits' and sum + amount > limit then
  return {0, tostring(sum)}
end
if mode == 'below' and sum >= limit then
  return {0, tostring(sum)}
end
if amount ~= 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], tostring(idx), tostring(amount))
  sum = sum + amount
end
redis.call('PEXPIRE', KEYS[1], span + bucket)
return {1, tostring(sum)}
"#;

/// `KEYS` the `ARGV[1]` windows, then the breaker keys; `ARGV[2..]` the windows' spans
/// (ms). Answers one sum per window, then per breaker `open:<ms left>`, `closed` or ``.
pub(crate) const VIEW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local out = {}
for k = 1, n do
  local span = tonumber(ARGV[k + 1])
  local bucket = math.max(math.floor(span / 60), 1)
  local oldest = math.floor(now / bucket) - math.floor(span / bucket) + 1
  local h = redis.call('HGETALL', KEYS[k])
  local sum = 0
  for i = 1, #h, 2 do
    if tonumber(h[i]) >= oldest then
      sum = sum + tonumber(h[i + 1])
    end
  end
  out[k] = tostring(sum)
end
for k = n + 1, #KEYS do
  local v = redis.call('GET', KEYS[k])
  if v == 'open' then
    out[k] = 'open:' .. tostring(math.max(redis.call('PTTL', KEYS[k]), 0))
  elseif v == 'closed' then
    out[k] = 'closed'
  else
    out[k] = ''
  end
end
return out
"#;
