/**
 * Lua, run by COMMIT before its first write (see scripts.ts, whose names it reads): that the user may run every
 * command the writes run, on their keys. A command an ACL refuses, or one renamed away, part way through would leave
 * the writes before it applied (a script that fails keeps what it wrote), with its caller told the commit failed: a
 * push refused and stored all the same, once per retry. Redis 7's `acl_check_cmd`; Redis 6 has none, and checks nothing.
 */
export const ALLOWED = `
if redis.acl_check_cmd then
  local checks = { { 'SET', v, new }, { 'SET', c, new }, { 'DEL', turn } }
  local function check(...) checks[#checks + 1] = { ... } end
  if wkey then
    check('APPEND', wkey, '')
    check('SET', wkey, '')
    check('GETRANGE', wkey, '0', '0')
    check('HSET', l, seg, '0')
  end
  if mode ~= '' then
    check('SET', m, '')
    check('APPEND', m, '')
    check('GETRANGE', m, '0', '0')
  end
  local at = wkey and 9 or 8
  for i = 1, tonumber(ARGV[12]) do
    check('DEL', KEYS[at])
    check('HDEL', l, '0')
    at = at + 1
  end
  for i = 1, tonumber(ARGV[13]) do
    check('EXISTS', KEYS[at])
    check('RENAME', KEYS[at], KEYS[at + 1])
    check('HDEL', l, '0')
    at = at + 2
  end
  for _, args in ipairs(checks) do
    local known, allowed = pcall(redis.acl_check_cmd, unpack(args))
    if not known then
      return redis.error_reply('ERR sluice: this server has no command ' .. args[1] .. ' (renamed away?), which the commit needs; nothing was written')
    elseif not allowed then
      return redis.error_reply('NOPERM sluice: this user may not run ' .. args[1] .. ' on ' .. args[2] .. ', which the commit needs; nothing was written')
    end
  end
end
`;
