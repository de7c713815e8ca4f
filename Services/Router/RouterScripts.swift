import RedisBus

/// The router's atomic steps, as Lua scripts run by Redis.
///
/// Every decision that reads and writes several keys (deliver or hold, register a request and
/// its deadline, claim an expired entry) runs as one script, so any number of router instances
/// can work on the same elements without locks: whoever's script removes an entry owns its
/// answer. Scripts build gateway stream names from the key prefix (`<prefix>gw:<id>`), which is
/// fine on one Redis or a replicated one but not on Redis Cluster (documented in the README).
///
/// Conventions shared by all scripts: a session hash has `state` (`online` or `kept`), `gw`,
/// `conn`, `max`; held frames are a list; in-flight members are `d:<uid hex>:<tracking>` for
/// requests toward an object and `u:<uid hex>:<tracking>` for requests from an object toward the
/// central, each with a hash `<prefix>inflight:<member>` holding `o` (origin: central, object or
/// api), `r` and `id` (reply stream and correlation id for api), `st` (sent or held).
enum RouterScripts {
    /// Lua helpers prepended to the scripts that deliver frames.
    ///
    /// `deliver` writes to the element's gateway when online, appends to its held list when kept
    /// (up to `maxHeld`), and reports `absent` otherwise; `toolong` when the element said it
    /// cannot process a transmission that long.
    private static let prelude = """
        local function deliver(prefix, streamMax, maxHeld, sessionKey, heldKey, frame)
          local s = redis.call('HMGET', sessionKey, 'state', 'gw', 'conn', 'max')
          if s[1] == 'online' then
            local max = tonumber(s[4] or '')
            if max and max > 0 and #frame > max then return 'toolong' end
            redis.call('XADD', prefix .. 'gw:' .. s[2], 'MAXLEN', '~', streamMax, '*', 'c', s[3], 'f', frame)
            return 'sent'
          elseif s[1] == 'kept' then
            if redis.call('LLEN', heldKey) >= tonumber(maxHeld) then return 'full' end
            redis.call('RPUSH', heldKey, frame)
            return 'held'
          end
          return 'absent'
        end

        """

    /// Delivers one frame to one element.
    /// KEYS: session, held. ARGV: prefix, streamMax, maxHeld, frame. Returns the outcome.
    static let deliver = RedisScript(
        prelude + """
            return deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[1], KEYS[2], ARGV[4])
            """)

    /// Delivers again a frame a gateway returned because the connection it was for had closed:
    /// held for the kept session, sent to the element's new connection, or `absent`. `stale`
    /// when the session still names the closed connection (its close never reached the router):
    /// sending it there again would only return it again.
    /// KEYS: session, held. ARGV: prefix, streamMax, maxHeld, frame, gateway, connection.
    static let redeliver = RedisScript(
        prelude + """
            local s = redis.call('HMGET', KEYS[1], 'state', 'gw', 'conn')
            if s[1] == 'online' and s[2] == ARGV[5] and s[3] == ARGV[6] then return 'stale' end
            return deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[1], KEYS[2], ARGV[4])
            """)

    /// Delivers a batch of frames (telemetry) to one element in as few stream entries as possible:
    /// consecutive frames are packed into one entry up to the element's stated maximum
    /// transmission length (64 KiB when it states none), which the gateway writes as they are,
    /// so the order is kept and a 30-byte frame does not cost a stream entry and a write each.
    /// KEYS: session, held. ARGV: prefix, streamMax, maxHeld, frames…
    /// Returns {outcome, placed, refused}: `sent`/`held` with how many frames were sent or held
    /// (the rest, in order from the first not placed, are refused: held list full, or a frame
    /// longer than the element accepts), or `absent` with none placed.
    static let deliverBatch = RedisScript(
        """
        local s = redis.call('HMGET', KEYS[1], 'state', 'gw', 'conn', 'max')
        local count = #ARGV - 3
        if s[1] == 'online' then
          local max = tonumber(s[4] or '')
          if not max or max <= 0 then max = 65536 end
          local stream = ARGV[1] .. 'gw:' .. s[2]
          local chunk, size, sent, refused = {}, 0, 0, 0
          for i = 4, #ARGV do
            local frame = ARGV[i]
            if #frame > max then
              refused = refused + 1
            else
              if size + #frame > max then
                redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', 'c', s[3], 'f', table.concat(chunk))
                chunk, size = {}, 0
              end
              chunk[#chunk + 1] = frame
              size = size + #frame
              sent = sent + 1
            end
          end
          if size > 0 then redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '*', 'c', s[3], 'f', table.concat(chunk)) end
          return {'sent', sent, refused}
        elseif s[1] == 'kept' then
          local room = tonumber(ARGV[3]) - redis.call('LLEN', KEYS[2])
          local held = 0
          for i = 4, #ARGV do
            if held >= room then break end
            redis.call('RPUSH', KEYS[2], ARGV[i])
            held = held + 1
          end
          return {'held', held, count - held}
        end
        return {'absent', 0, count}
        """)

    /// Registers a request in flight and delivers it, unless one with the same member is already
    /// in progress (`busy`). A delivered request gets its deadline; a held one gets none until it
    /// is replayed (its fate is then the keep delay's: replay or 0xA0).
    /// KEYS: inflight hash, destination session, destination held, deadlines.
    /// ARGV: prefix, streamMax, maxHeld, frame, member, deadline ms, origin, reply stream,
    /// correlation id, safety TTL ms.
    static let request = RedisScript(
        prelude + """
            if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
            local outcome = deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[2], KEYS[3], ARGV[4])
            if outcome == 'sent' or outcome == 'held' then
              local state = 'sent'
              if outcome == 'held' then state = 'held' end
              redis.call('HSET', KEYS[1], 'o', ARGV[7], 'r', ARGV[8], 'id', ARGV[9], 'st', state)
              redis.call('PEXPIRE', KEYS[1], ARGV[10])
              if outcome == 'sent' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5]) end
            end
            return outcome
            """)

    /// Hands an object's request to the request webhook (no central session): registers it in
    /// flight with `v`=`webhook` (its timeout is answered 0x01, PROTOCOL.md decision) and
    /// queues the job.
    /// KEYS: inflight hash, deadlines, webhook request stream.
    /// ARGV: member, router deadline ms, safety TTL ms, uid hex, tracking, payload block bytes,
    /// job deadline ms, streamMax. Returns `queued` or `busy`.
    static let webhookRequest = RedisScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 'busy' end
        redis.call('HSET', KEYS[1], 'o', 'object', 'r', '', 'id', '', 'st', 'sent', 'v', 'webhook')
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'uid', ARGV[4], 'trk', ARGV[5], 'p', ARGV[6], 'dl', ARGV[7])
        return 'queued'
        """)

    /// Sends an HTTP call's request to an object under a tracking number not in use toward it
    /// (PROTOCOL.md: the concentrator chooses it for requests it creates). The caller's
    /// deadline applies even while the request is held.
    /// KEYS: tracking counter, object session, object held, deadlines.
    /// ARGV: prefix, streamMax, maxHeld, payload block bytes, uid hex, deadline ms, reply
    /// stream, correlation id, safety TTL ms. Returns {outcome, tracking}.
    static let call = RedisScript(
        prelude + """
            for _ = 1, 64 do
              local tracking = redis.call('INCR', KEYS[1]) % 65536
              local member = 'd:' .. ARGV[5] .. ':' .. tracking
              local key = ARGV[1] .. 'inflight:' .. member
              if redis.call('EXISTS', key) == 0 then
                local frame = string.char(0x30, math.floor(tracking / 256), tracking % 256) .. ARGV[4]
                local outcome = deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[2], KEYS[3], frame)
                if outcome == 'sent' or outcome == 'held' then
                  redis.call('HSET', key, 'o', 'api', 'r', ARGV[7], 'id', ARGV[8], 'st', outcome)
                  redis.call('PEXPIRE', key, ARGV[9])
                  redis.call('ZADD', KEYS[4], ARGV[6], member)
                end
                return {outcome, tracking}
              end
            end
            return {'busy', -1}
            """)

    /// Completes a request in flight with its response: claims the entry (so a timeout cannot
    /// also answer it) and delivers the response to its origin. A response longer than the
    /// requester said it can process is not written (`toolong`): the router answers 0x01 (not
    /// valid, empty payload) instead, so the requester still gets exactly one answer.
    /// KEYS: inflight hash, deadlines, object session, object held, central session, central held.
    /// ARGV: prefix, streamMax, maxHeld, member, frame for the object (RTE 0), frame for the
    /// central (RTE 1), code, payload block bytes.
    /// Returns {outcome, origin}; outcome `late` when nothing was waiting.
    static let response = RedisScript(
        prelude + """
            local r = redis.call('HMGET', KEYS[1], 'o', 'r', 'id')
            if not r[1] then return {'late', ''} end
            redis.call('DEL', KEYS[1])
            redis.call('ZREM', KEYS[2], ARGV[4])
            if r[1] == 'object' then
              return {deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[3], KEYS[4], ARGV[5]), 'object'}
            elseif r[1] == 'central' then
              return {deliver(ARGV[1], ARGV[2], ARGV[3], KEYS[5], KEYS[6], ARGV[6]), 'central'}
            end
            redis.call('XADD', r[2], 'MAXLEN', '~', ARGV[2], '*', 'id', r[3], 'code', ARGV[7], 'p', ARGV[8])
            return {'sent', 'api'}
            """)

    /// Claims in-flight entries whose deadline has passed, at most ARGV[2] of them.
    /// KEYS: deadlines. ARGV: now ms, limit, prefix. Returns {member, origin, reply, id, via}
    /// items (`via` is `webhook` for requests handed to the request webhook).
    static let claimExpiredRequests = RedisScript(
        """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
        local out = {}
        for _, member in ipairs(due) do
          redis.call('ZREM', KEYS[1], member)
          local key = ARGV[3] .. 'inflight:' .. member
          local r = redis.call('HMGET', key, 'o', 'r', 'id', 'v')
          redis.call('DEL', key)
          if r[1] then table.insert(out, {member, r[1], r[2] or '', r[3] or '', r[4] or ''}) end
        end
        return out
        """)

    /// Claims one in-flight entry (a held request whose element's keep delay ended).
    /// KEYS: inflight hash, deadlines. ARGV: member. Returns {origin, reply, id} or {}.
    static let claimRequest = RedisScript(
        """
        local r = redis.call('HMGET', KEYS[1], 'o', 'r', 'id')
        if not r[1] then return {} end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return {r[1], r[2] or '', r[3] or ''}
        """)

    /// A session opened: records it online, closes an older connection of the same element
    /// (close code 0x01), and replays what was held, in order, before anything new (the replay
    /// is written in this same atomic step, so nothing routed afterwards can overtake it).
    /// Replayed requests get their deadline from now. Held frames longer than the new
    /// connection's stated maximum are not written but returned (the router answers the
    /// requests among them 0xA0).
    /// A login checked against an ACL key the ACL no longer holds (a gateway's cached copy of an
    /// entry removed or re-keyed since) opens nothing: the connection is told to close (0x01)
    /// and the script returns {'stale'}. The key is compared by its SHA-1 (`AuthKey.fingerprint`;
    /// a record is the group's 16 bytes, then the key's), so no key travels on a stream.
    /// KEYS: session, held, kept, acl, deadlines, gateway sessions set, last seen.
    /// ARGV: uid hex, gw, conn, now ms, remote address, max ('' if unstated), prefix, streamMax,
    /// request timeout ms, '1' when the element is the central, the fingerprint of the ACL key
    /// the gateway used ('' when it sent none: the central, or an older gateway).
    /// Returns {replaced, resumed, replayed count, group wire bytes or '', old gw, old conn,
    /// frames too long to replay}.
    static let openSession = RedisScript(
        """
        if ARGV[11] ~= '' then
          local record = redis.call('HGET', KEYS[4], ARGV[1])
          if not record or redis.sha1hex(string.sub(record, 17, 32)) ~= ARGV[11] then
            redis.call('XADD', ARGV[7] .. 'gw:' .. ARGV[2], 'MAXLEN', '~', ARGV[8], '*', 'c', ARGV[3], 'x', 1)
            return {'stale'}
          end
        end
        local old = redis.call('HMGET', KEYS[1], 'state', 'gw', 'conn')
        local replaced = 0
        if old[1] == 'online' and (old[2] ~= ARGV[2] or old[3] ~= ARGV[3]) then
          redis.call('XADD', ARGV[7] .. 'gw:' .. old[2], 'MAXLEN', '~', ARGV[8], '*', 'c', old[3], 'x', 1)
          redis.call('SREM', ARGV[7] .. 'gw-sessions:' .. old[2], ARGV[1])
          replaced = 1
        end
        local resumed = 0
        if old[1] == 'kept' then resumed = 1 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'state', 'online', 'gw', ARGV[2], 'conn', ARGV[3], 'since', ARGV[4],
          'addr', ARGV[5], 'max', ARGV[6])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('SADD', KEYS[6], ARGV[1])
        redis.call('HSET', KEYS[7], ARGV[1], ARGV[4])
        local held = redis.call('LRANGE', KEYS[2], 0, -1)
        redis.call('DEL', KEYS[2])
        local stream = ARGV[7] .. 'gw:' .. ARGV[2]
        local deadline = tonumber(ARGV[4]) + tonumber(ARGV[9])
        local max = tonumber(ARGV[6]) or 0
        local refused = {}
        for _, frame in ipairs(held) do
          if max > 0 and #frame > max then
            table.insert(refused, frame)
          else
            redis.call('XADD', stream, 'MAXLEN', '~', ARGV[8], '*', 'c', ARGV[3], 'f', frame)
            if math.floor(string.byte(frame, 1) / 16) == 3 then
              local member
              if ARGV[10] == '1' then
                local hex = {}
                for i = 2, 17 do hex[#hex + 1] = string.format('%02x', string.byte(frame, i)) end
                member = 'u:' .. table.concat(hex) .. ':' .. (string.byte(frame, 18) * 256 + string.byte(frame, 19))
              else
                member = 'd:' .. ARGV[1] .. ':' .. (string.byte(frame, 2) * 256 + string.byte(frame, 3))
              end
              local key = ARGV[7] .. 'inflight:' .. member
              if redis.call('EXISTS', key) == 1 then
                redis.call('HSET', key, 'st', 'sent')
                redis.call('ZADD', KEYS[5], 'LT', deadline, member)
              end
            end
          end
        end
        local group = redis.call('HGET', KEYS[4], ARGV[1])
        if group then group = string.sub(group, 1, 16) else group = '' end
        return {replaced, resumed, #held - #refused, group, old[2] or '', old[3] or '', refused}
        """)

    /// A connection ended: keeps or drops the session, unless the session has already moved to
    /// another connection (`stale`: a second login replaced it).
    /// KEYS: session, kept, gateway sessions set, held, device token, token renewals, last seen.
    /// ARGV: uid hex, gw, conn, '1' to keep, keep deadline ms, prefix, now ms.
    static let closeSession = RedisScript(
        """
        local s = redis.call('HMGET', KEYS[1], 'state', 'gw', 'conn')
        if s[1] ~= 'online' or s[2] ~= ARGV[2] or s[3] ~= ARGV[3] then return 'stale' end
        redis.call('SREM', KEYS[3], ARGV[1])
        redis.call('HSET', KEYS[7], ARGV[1], ARGV[7])
        if ARGV[4] == '1' then
          redis.call('HSET', KEYS[1], 'state', 'kept', 'keptUntil', ARGV[5])
          redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
          return 'kept'
        end
        redis.call('DEL', KEYS[1], KEYS[4])
        redis.call('ZREM', KEYS[2], ARGV[1])
        local token = redis.call('GET', KEYS[5])
        if token then redis.call('DEL', ARGV[6] .. 'token:' .. token) end
        redis.call('DEL', KEYS[5])
        redis.call('ZREM', KEYS[6], ARGV[1])
        return 'dropped'
        """)

    /// Ends sessions: the keep delay ran out (KEYS[1] = kept set, ARGV: now, limit, prefix) —
    /// returns {uid hex, last gateway, held frames…} per session ended, with its token revoked.
    static let expireKeptSessions = RedisScript(
        """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
        local out = {}
        for _, uid in ipairs(due) do
          redis.call('ZREM', KEYS[1], uid)
          local session = ARGV[3] .. 'session:' .. uid
          local s = redis.call('HMGET', session, 'state', 'gw')
          if s[1] == 'kept' then
            local heldKey = ARGV[3] .. 'held:' .. uid
            local item = redis.call('LRANGE', heldKey, 0, -1)
            table.insert(item, 1, s[2] or '')
            table.insert(item, 1, uid)
            redis.call('DEL', session, heldKey)
            local tokenKey = ARGV[3] .. 'devtoken:' .. uid
            local token = redis.call('GET', tokenKey)
            if token then redis.call('DEL', ARGV[3] .. 'token:' .. token) end
            redis.call('DEL', tokenKey)
            redis.call('ZREM', ARGV[3] .. 'token-renewals', uid)
            table.insert(out, item)
          end
        end
        return out
        """)

    /// Ends one element's session now (it left the ACL): an online one is told to close (0x01),
    /// a kept one is dropped like an expired one. KEYS: session, held, kept, device token,
    /// renewals. ARGV: uid hex, prefix, streamMax. Returns {state, held frames…}.
    static let revokeSession = RedisScript(
        """
        local s = redis.call('HMGET', KEYS[1], 'state', 'gw', 'conn')
        if s[1] == 'online' then
          redis.call('XADD', ARGV[2] .. 'gw:' .. s[2], 'MAXLEN', '~', ARGV[3], '*', 'c', s[3], 'x', 1)
          return {'online'}
        elseif s[1] == 'kept' then
          local item = redis.call('LRANGE', KEYS[2], 0, -1)
          table.insert(item, 1, 'kept')
          redis.call('DEL', KEYS[1], KEYS[2])
          redis.call('ZREM', KEYS[3], ARGV[1])
          local token = redis.call('GET', KEYS[4])
          if token then redis.call('DEL', ARGV[2] .. 'token:' .. token) end
          redis.call('DEL', KEYS[4])
          redis.call('ZREM', KEYS[5], ARGV[1])
          return item
        end
        return {'absent'}
        """)

    /// Issues a telemetry token and sends it to the element (ToT 0x5).
    /// KEYS: new token key, device token, renewals, session, held.
    /// ARGV: uid hex, token hex, lifetime ms ('0' = no expiry), renew at ms ('' = never),
    /// prefix, streamMax, maxHeld, token frame.
    /// Returns `absent` without issuing when the session is gone by the time this runs (it
    /// closed right after opening), `collision` (the random token is live already: draw
    /// another) or the delivery.
    static let issueToken = RedisScript(
        prelude + """
            local state = redis.call('HGET', KEYS[4], 'state')
            if state ~= 'online' and state ~= 'kept' then return 'absent' end
            local ok
            if ARGV[3] == '0' then
              ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
            else
              ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3])
            end
            if not ok then return 'collision' end
            local old = redis.call('GET', KEYS[2])
            if old and ARGV[3] == '0' then redis.call('DEL', ARGV[5] .. 'token:' .. old) end
            if ARGV[3] == '0' then
              redis.call('SET', KEYS[2], ARGV[2])
            else
              redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
            end
            if ARGV[4] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) end
            return deliver(ARGV[5], ARGV[6], ARGV[7], KEYS[4], KEYS[5], ARGV[8])
            """)

    /// Claims token renewals that are due. KEYS: renewals. ARGV: now, limit, prefix.
    /// Returns the UID hex of elements still online (kept ones get a new token when they resume).
    static let claimRenewals = RedisScript(
        """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
        local out = {}
        for _, uid in ipairs(due) do
          redis.call('ZREM', KEYS[1], uid)
          if redis.call('HGET', ARGV[3] .. 'session:' .. uid, 'state') == 'online' then table.insert(out, uid) end
        end
        return out
        """)

    /// A gateway stopped heartbeating (crashed): its sessions become kept, as after any
    /// unexpected disconnect, or end like a dropped session (telemetry token revoked, last
    /// seen now) when sessions are not kept. KEYS: gateways, kept. ARGV: cutoff ms, prefix,
    /// keep deadline ms (now when not keeping), '1' to keep. Returns {gateway, uid hex…} per
    /// dead gateway.
    static let sweepDeadGateways = RedisScript(
        """
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        local out = {}
        for _, gw in ipairs(dead) do
          redis.call('ZREM', KEYS[1], gw)
          local setKey = ARGV[2] .. 'gw-sessions:' .. gw
          local item = {gw}
          for _, uid in ipairs(redis.call('SMEMBERS', setKey)) do
            local session = ARGV[2] .. 'session:' .. uid
            local s = redis.call('HMGET', session, 'state', 'gw')
            if s[1] == 'online' and s[2] == gw then
              if ARGV[4] == '1' then
                redis.call('HSET', session, 'state', 'kept', 'keptUntil', ARGV[3])
                redis.call('ZADD', KEYS[2], ARGV[3], uid)
              else
                redis.call('DEL', session, ARGV[2] .. 'held:' .. uid)
                local tokenKey = ARGV[2] .. 'devtoken:' .. uid
                local token = redis.call('GET', tokenKey)
                if token then redis.call('DEL', ARGV[2] .. 'token:' .. token) end
                redis.call('DEL', tokenKey)
                redis.call('ZREM', ARGV[2] .. 'token-renewals', uid)
                redis.call('HSET', ARGV[2] .. 'seen', uid, ARGV[3])
              end
              table.insert(item, uid)
            end
          end
          redis.call('DEL', setKey, ARGV[2] .. 'gw:' .. gw)
          table.insert(out, item)
        end
        return out
        """)

    static let all: [RedisScript] = [
        deliver, redeliver, deliverBatch, request, webhookRequest, call, response, claimExpiredRequests, claimRequest, openSession, closeSession, expireKeptSessions,
        revokeSession, issueToken, claimRenewals, sweepDeadGateways,
    ]
}
