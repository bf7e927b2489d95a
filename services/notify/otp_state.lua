-- One-time-code state machine in Redis. Every check-and-update runs here, atomically, on
-- Redis' own clock (TIME), so limits hold across notify replicas whatever their clocks say.
--
-- ARGV[1] is the operation; the rest depend on it. Replies are flat arrays:
--   {"ok", <fields...>} | {"refused", <rule>, <retry_after_ms>} | {"result", <result>, ...}
-- Keys are built here from ARGV (all under one prefix); this script is not for Redis Cluster
-- as is (it would need hash tags), which the platform does not use for OTP state.
--
-- Sends are queued in the same step: an issue or resend that is allowed appends its send
-- request to the stream <prefix>outbox (XADD), so the state change and the send request exist
-- together or not at all; `otp_outbox.py` relays the stream to Kafka.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Sliding window: how many sends in the last window_ms.
local function window(key, now, window_ms)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
  return redis.call('ZCARD', key)
end

-- When the oldest send of a full window leaves it (only asked when refusing).
local function retry_after(key, now, window_ms)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] then return tonumber(oldest[2]) + window_ms - now end
  return 0
end

-- The send limits of one message to `dest` from `ip` (CONTRACT.md §3 plus the pumping
-- defences). Returns nil when allowed, or rule, retry_after_ms.
local function check_limits(p, dest, ip, prefix, is_sms, now)
  local rules = {
    {'destination_10m', p .. 'd10:' .. dest, 600000, tonumber(ARGV[7])},
    {'destination_24h', p .. 'd24:' .. dest, 86400000, tonumber(ARGV[8])},
  }
  if ip ~= '' then table.insert(rules, {'client_ip_1h', p .. 'ip:' .. ip, 3600000, tonumber(ARGV[9])}) end
  if is_sms == '1' and prefix ~= '' then
    table.insert(rules, {'number_prefix_1h', p .. 'pfx:' .. prefix, 3600000, tonumber(ARGV[10])})
  end
  for _, rule in ipairs(rules) do
    if window(rule[2], now, rule[3]) >= rule[4] then
      return rule[1], math.max(retry_after(rule[2], now, rule[3]), 1000)
    end
  end
  if is_sms == '1' then
    local hour = math.floor(now / 3600000)
    local spent = tonumber(redis.call('GET', p .. 'sms_budget:' .. hour) or '0')
    if spent >= tonumber(ARGV[11]) then return 'sms_budget', (hour + 1) * 3600000 - now end
  end
  return nil
end

local function record_send(p, dest, ip, prefix, is_sms, now, member)
  local marks = {{p .. 'd10:' .. dest, 600000}, {p .. 'd24:' .. dest, 86400000}}
  if ip ~= '' then table.insert(marks, {p .. 'ip:' .. ip, 3600000}) end
  if is_sms == '1' and prefix ~= '' then table.insert(marks, {p .. 'pfx:' .. prefix, 3600000}) end
  for _, mark in ipairs(marks) do
    redis.call('ZADD', mark[1], now, member)
    redis.call('PEXPIRE', mark[1], mark[2])
  end
  if is_sms == '1' then
    local key = p .. 'sms_budget:' .. math.floor(now / 3600000)
    redis.call('INCR', key)
    redis.call('PEXPIRE', key, 7200000)
  end
end

-- The send request (a serialized NotificationRequest), for the relay to Kafka, and the record
-- of that send's delivery status (<prefix>s:<request id>: QUEUED until a provider answers).
local function queue_send(p, request_id, payload, trace, vid, channel, keep_ms)
  redis.call('XADD', p .. 'outbox', '*', 'id', request_id, 'payload', payload, 'trace', trace)
  local record = p .. 's:' .. request_id
  redis.call('HSET', record, 'vid', vid, 'status', 'queued', 'channel', channel, 'attempts', 0)
  redis.call('PEXPIRE', record, keep_ms)
  redis.call('HSET', p .. 'v:' .. vid, 'delivery_status', 'queued', 'last_request', request_id)
end

local op, p = ARGV[1], ARGV[2]
local now = now_ms()

if op == 'issue' then
  -- ARGV: 3 vid, 4 dest_hash, 5 client_ip, 6 number_prefix, 7 d10 max, 8 d24 max, 9 ip max,
  -- 10 prefix max, 11 sms budget/h, 12 is_sms, 13 ttl_ms, 14 idempotency key ('' none),
  -- 15 purpose, 16 flow, 17 channel, 18 destination, 19 kid, 20 nonce, 21 max checks,
  -- 22 verifier (keyed HMAC of the code), 23 send request id, 24 send payload, 25 trace headers
  local vid, dest, ip, prefix, is_sms = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[12]
  local idem = ARGV[14]
  if idem ~= '' then
    local existing = redis.call('GET', p .. 'idem:' .. idem)
    if existing then return {'existing', existing} end
  end
  local rule, retry = check_limits(p, dest, ip, prefix, is_sms, now)
  if rule then return {'refused', rule, retry} end
  local ttl = tonumber(ARGV[13])
  local key = p .. 'v:' .. vid
  redis.call('HSET', key, 'status', 'pending', 'purpose', ARGV[15], 'flow', ARGV[16], 'channel', ARGV[17],
             'destination', ARGV[18], 'dest_hash', dest, 'kid', ARGV[19], 'nonce', ARGV[20], 'checks', 0,
             'max_checks', ARGV[21], 'sends', 1, 'created_ms', now, 'last_send_ms', now,
             'expires_ms', now + ttl, 'verifier', ARGV[22], 'sent_ms:' .. dest, now)
  -- kept past its expiry for a day, so a late check says "expired" rather than "not found"
  redis.call('PEXPIRE', key, ttl + 86400000)
  if idem ~= '' then redis.call('SET', p .. 'idem:' .. idem, vid, 'PX', ttl) end
  record_send(p, dest, ip, prefix, is_sms, now, vid .. ':1')
  queue_send(p, ARGV[23], ARGV[24], ARGV[25], vid, ARGV[17], ttl + 86400000)
  return {'ok', now, now + ttl}
end

if op == 'resend' then
  -- ARGV: 3 vid, 5 client_ip, 6 number_prefix, 7-11 limits as issue, 12 cooldown_ms,
  -- 13 purpose, 14 flow, 15 send request id, 16 send payload, 17 trace headers,
  -- 18 another channel ('' = the verification's own), 19 its destination, 20 its dest hash.
  -- The cooldown and the caps are those of the destination the code goes to now.
  local key = p .. 'v:' .. ARGV[3]
  local v = redis.call('HMGET', key, 'status', 'purpose', 'flow', 'dest_hash', 'channel', 'last_send_ms',
                       'expires_ms', 'sends')
  if not v[1] or v[2] ~= ARGV[13] or v[3] ~= ARGV[14] then return {'result', 'not_found'} end
  if v[1] ~= 'pending' then return {'result', 'not_pending', v[1]} end
  if now >= tonumber(v[7]) then
    redis.call('HSET', key, 'status', 'expired')
    return {'result', 'expired'}
  end
  local channel, dest = v[5], v[4]
  if ARGV[18] and ARGV[18] ~= '' then channel, dest = ARGV[18], ARGV[20] end
  local last = redis.call('HGET', key, 'sent_ms:' .. dest)
  if not last and dest == v[4] then last = v[6] end
  if last then
    local wait = tonumber(last) + tonumber(ARGV[12]) - now
    if wait > 0 then return {'refused', 'resend_cooldown', wait} end
  end
  local is_sms = (channel == 'sms') and '1' or '0'
  local rule, retry = check_limits(p, dest, ARGV[5], ARGV[6], is_sms, now)
  if rule then return {'refused', rule, retry} end
  local sends = redis.call('HINCRBY', key, 'sends', 1)
  redis.call('HSET', key, 'last_send_ms', now, 'sent_ms:' .. dest, now)
  if channel ~= v[5] or dest ~= v[4] then
    redis.call('HSET', key, 'last_channel', channel, 'last_destination', ARGV[19])
  else
    redis.call('HDEL', key, 'last_channel', 'last_destination')
  end
  record_send(p, dest, ARGV[5], ARGV[6], is_sms, now, ARGV[3] .. ':' .. sends)
  queue_send(p, ARGV[15], ARGV[16], ARGV[17], ARGV[3], channel, redis.call('PTTL', key))
  return {'ok', now, tonumber(v[7])}
end

if op == 'verify' then
  -- One step for a submitted code: the guess is counted and compared here, atomically, so no
  -- parallel guess is ever compared without being counted (CONTRACT.md §3).
  -- ARGV: 3 vid, 4 purpose, 5 flow, then pairs (6 kid, 7 candidate verifier, ...): the
  -- keyed HMAC of the submitted code under each key notify holds ('' when it is no code).
  -- The stored verifier is an HMAC too, so comparing two of them leaks nothing about the code.
  local key = p .. 'v:' .. ARGV[3]
  local v = redis.call('HMGET', key, 'status', 'purpose', 'flow', 'checks', 'max_checks', 'expires_ms', 'kid',
                       'verifier')
  if not v[1] or v[2] ~= ARGV[4] or v[3] ~= ARGV[5] then return {'result', 'not_found', 0} end
  if not v[8] then return {'legacy'} end -- issued before verifiers: the caller compares (op 'check')
  local checks, max_checks = tonumber(v[4]), tonumber(v[5])
  if v[1] == 'max_attempts_reached' then return {'result', 'max_attempts_reached', 0} end
  if v[1] ~= 'pending' then return {'result', 'not_pending', 0, v[1]} end
  if now >= tonumber(v[6]) then
    redis.call('HSET', key, 'status', 'expired')
    return {'result', 'expired', max_checks - checks}
  end
  local candidate = ''
  for i = 6, #ARGV - 1, 2 do
    if ARGV[i] == v[7] then candidate = ARGV[i + 1] end
  end
  if candidate ~= '' and candidate == v[8] then
    redis.call('HSET', key, 'status', 'approved', 'approved_ms', now)
    return {'result', 'approved', max_checks - checks}
  end
  checks = redis.call('HINCRBY', key, 'checks', 1)
  if checks >= max_checks then redis.call('HSET', key, 'status', 'max_attempts_reached') end
  return {'result', 'invalid', max_checks - checks}
end

if op == 'check' then
  -- Verifications issued before verifiers existed (a rolling upgrade): the caller compared.
  -- ARGV: 3 vid, 4 purpose, 5 flow, 6 code_ok ('1'/'0')
  local key = p .. 'v:' .. ARGV[3]
  local v = redis.call('HMGET', key, 'status', 'purpose', 'flow', 'checks', 'max_checks', 'expires_ms')
  if not v[1] or v[2] ~= ARGV[4] or v[3] ~= ARGV[5] then return {'result', 'not_found', 0} end
  local checks, max_checks = tonumber(v[4]), tonumber(v[5])
  if v[1] == 'max_attempts_reached' then return {'result', 'max_attempts_reached', 0} end
  if v[1] ~= 'pending' then return {'result', 'not_pending', 0, v[1]} end
  if now >= tonumber(v[6]) then
    redis.call('HSET', key, 'status', 'expired')
    return {'result', 'expired', max_checks - checks}
  end
  if ARGV[6] == '1' then
    redis.call('HSET', key, 'status', 'approved', 'approved_ms', now)
    return {'result', 'approved', max_checks - checks}
  end
  checks = redis.call('HINCRBY', key, 'checks', 1)
  if checks >= max_checks then redis.call('HSET', key, 'status', 'max_attempts_reached') end
  return {'result', 'invalid', max_checks - checks}
end

if op == 'cancel' then
  -- ARGV: 3 vid, 4 purpose, 5 flow
  local key = p .. 'v:' .. ARGV[3]
  local v = redis.call('HMGET', key, 'status', 'purpose', 'flow')
  if not v[1] or v[2] ~= ARGV[4] or v[3] ~= ARGV[5] then return {'result', 'not_found'} end
  if v[1] == 'pending' then redis.call('HSET', key, 'status', 'canceled') end
  return {'result', 'canceled'}
end

if op == 'fail' then
  -- ARGV: 3 vid. The code could not be delivered at all (a provider refused it for good).
  local key = p .. 'v:' .. ARGV[3]
  if redis.call('HGET', key, 'status') == 'pending' then redis.call('HSET', key, 'status', 'failed') end
  return {'result', 'failed'}
end

if op == 'delivery' then
  -- ARGV: 3 send request id, 4 new status ('sent' | 'failed'), 5 provider. A send moves only
  -- forwards (queued → sent → failed, queued → failed): a repeated or older report changes
  -- nothing. The verification shows the status of its latest send.
  local record = p .. 's:' .. ARGV[3]
  local s = redis.call('HMGET', record, 'vid', 'status', 'channel')
  if not s[1] then return {'result', 'not_found'} end
  local allowed = s[2] == 'queued' or (s[2] == 'sent' and ARGV[4] == 'failed')
  local vkey = p .. 'v:' .. s[1]
  local purpose = redis.call('HGET', vkey, 'purpose') or ''
  if not allowed then return {'result', 'unchanged', s[2], s[1], s[3], purpose} end
  redis.call('HSET', record, 'status', ARGV[4], 'provider', ARGV[5], 'at_ms', now)
  if redis.call('HGET', vkey, 'last_request') == ARGV[3] then
    redis.call('HSET', vkey, 'delivery_status', ARGV[4])
  end
  return {'result', 'changed', ARGV[4], s[1], s[3], purpose}
end

if op == 'attempt' then
  -- ARGV: 3 send request id. One more try of the delivery worker at this send; how many so far.
  local record = p .. 's:' .. ARGV[3]
  if redis.call('EXISTS', record) == 0 then return {'result', 0} end
  return {'result', redis.call('HINCRBY', record, 'attempts', 1)}
end

return redis.error_reply('unknown operation ' .. tostring(op))
