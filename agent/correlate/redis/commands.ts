/**
 * Redis commands: which ones exist (Redis 7.0's COMMAND LIST plus the 7.2-8.0 additions), and
 * which of a command's arguments are keys. db.query.text keeps the command, its keys (and the
 * names that are schema, not data: hash fields, subcommands, numkeys, a script's sha1) and
 * replaces every value by `?` (OTel database conventions: "HMSET myhash field1 ? field2 ?").
 * Argument values never leave the request framer's capture buffer unless this says "kept".
 */

/** How the arguments after the command name are exported. */
export const ArgRule = {
  /** The first argument is a key, the rest are values: GET k, SET k ?, LPUSH k ? ?. */
  FirstKey: 0,
  /** Every argument is a key (or a channel): DEL k1 k2, MGET, SUBSCRIBE c1 c2. */
  AllKeys: 1,
  /** No argument is kept: AUTH, HELLO (credentials), ECHO, PING. */
  NoneKept: 2,
  /** A key, then field names: HGET k f, HMGET k f1 f2, HDEL. */
  KeyThenFields: 3,
  /** A key, then field/value pairs: HSET k f1 ? f2 ?. */
  KeyThenFieldValues: 4,
  /** Key/value pairs: MSET k1 ? k2 ?. */
  KeyValues: 5,
  /** A subcommand word, then values: CONFIG GET ?, CLIENT SETNAME ?. */
  Subcommand: 6,
  /** script-or-name numkeys key... arg...: EVALSHA/FCALL keep the sha1/function name, EVAL does not keep its script. */
  ScriptKeys: 7,
  /** The database index: SELECT 2 (it becomes db.namespace). */
  Index: 8,
} as const;
export type ArgRule = (typeof ArgRule)[keyof typeof ArgRule];

const kCommands =
  'ACL APPEND ASKING AUTH BGREWRITEAOF BGSAVE BITCOUNT BITFIELD BITFIELD_RO BITOP BITPOS BLMOVE BLMPOP ' +
  'BLPOP BRPOP BRPOPLPUSH BZMPOP BZPOPMAX BZPOPMIN CLIENT CLUSTER COMMAND CONFIG COPY DBSIZE DEBUG ' +
  'DECR DECRBY DEL DISCARD DUMP ECHO EVAL EVALSHA EVALSHA_RO EVAL_RO EXEC EXISTS EXPIRE EXPIREAT ' +
  'EXPIRETIME FAILOVER FCALL FCALL_RO FLUSHALL FLUSHDB FUNCTION GEOADD GEODIST GEOHASH GEOPOS ' +
  'GEORADIUS GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEORADIUS_RO GEOSEARCH GEOSEARCHSTORE GET GETBIT ' +
  'GETDEL GETEX GETRANGE GETSET HDEL HELLO HEXISTS HGET HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET ' +
  'HMSET HRANDFIELD HSCAN HSET HSETNX HSTRLEN HVALS INCR INCRBY INCRBYFLOAT INFO KEYS LASTSAVE LATENCY ' +
  'LCS LINDEX LINSERT LLEN LMOVE LMPOP LOLWUT LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM MEMORY ' +
  'MGET MIGRATE MODULE MONITOR MOVE MSET MSETNX MULTI OBJECT PERSIST PEXPIRE PEXPIREAT PEXPIRETIME ' +
  'PFADD PFCOUNT PFDEBUG PFMERGE PFSELFTEST PING PSETEX PSUBSCRIBE PSYNC PTTL PUBLISH PUBSUB ' +
  'PUNSUBSCRIBE QUIT RANDOMKEY READONLY READWRITE RENAME RENAMENX REPLCONF REPLICAOF RESET RESTORE ' +
  'RESTORE-ASKING ROLE RPOP RPOPLPUSH RPUSH RPUSHX SADD SAVE SCAN SCARD SCRIPT SDIFF SDIFFSTORE SELECT ' +
  'SET SETBIT SETEX SETNX SETRANGE SHUTDOWN SINTER SINTERCARD SINTERSTORE SISMEMBER SLAVEOF SLOWLOG ' +
  'SMEMBERS SMISMEMBER SMOVE SORT SORT_RO SPOP SPUBLISH SRANDMEMBER SREM SSCAN SSUBSCRIBE STRLEN ' +
  'SUBSCRIBE SUBSTR SUNION SUNIONSTORE SUNSUBSCRIBE SWAPDB SYNC TIME TOUCH TTL TYPE UNLINK UNSUBSCRIBE ' +
  'UNWATCH WAIT WATCH XACK XADD XAUTOCLAIM XCLAIM XDEL XGROUP XINFO XLEN XPENDING XRANGE XREAD ' +
  'XREADGROUP XREVRANGE XSETID XTRIM ZADD ZCARD ZCOUNT ZDIFF ZDIFFSTORE ZINCRBY ZINTER ZINTERCARD ' +
  'ZINTERSTORE ZLEXCOUNT ZMPOP ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ' +
  'ZRANGESTORE ZRANK ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ' +
  'ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE ZUNION ZUNIONSTORE ' +
  // Redis 7.2 - 8.0
  'WAITAOF HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT HEXPIRETIME HPEXPIRETIME HTTL HPTTL HPERSIST ' +
  'HGETDEL HGETEX HSETEX';

const kRules: [ArgRule, string][] = [
  [
    ArgRule.AllKeys,
    'DEL UNLINK EXISTS TOUCH WATCH MGET SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE ' +
      'PFCOUNT PFMERGE RENAME RENAMENX BLPOP BRPOP BZPOPMIN BZPOPMAX SUBSCRIBE UNSUBSCRIBE ' +
      'PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE',
  ],
  [ArgRule.NoneKept, 'AUTH HELLO ECHO PING MIGRATE'],
  [ArgRule.KeyThenFields, 'HGET HMGET HDEL HEXISTS HSTRLEN HINCRBY HINCRBYFLOAT'],
  [ArgRule.KeyThenFieldValues, 'HSET HMSET HSETNX'],
  [ArgRule.KeyValues, 'MSET MSETNX'],
  [
    ArgRule.Subcommand,
    'ACL CLIENT CLUSTER COMMAND CONFIG DEBUG FUNCTION LATENCY MEMORY MODULE OBJECT PUBSUB SCRIPT ' +
      'SLOWLOG XGROUP XINFO',
  ],
  [ArgRule.ScriptKeys, 'EVAL EVAL_RO EVALSHA EVALSHA_RO FCALL FCALL_RO'],
  [ArgRule.Index, 'SELECT'],
];

const kKnown = new Set(kCommands.split(' '));
const kRuleOf = new Map<string, ArgRule>();
for (const [rule, names] of kRules) for (const name of names.split(' ')) kRuleOf.set(name, rule);

/** Whether `upper` (an upper-cased command name) is a Redis command (`prefix`: or the start of one). */
export function isKnownCommand(upper: string, prefix = false): boolean {
  if (kKnown.has(upper)) return true;
  if (prefix) for (const known of kKnown) if (known.startsWith(upper)) return true;
  return false;
}

/** The argument rule of a command (upper-cased name). */
export function argRuleOf(upper: string): ArgRule {
  return kRuleOf.get(upper) ?? ArgRule.FirstKey;
}

/** Commands whose replies (and, in RESP2, every later server message) follow the pub/sub rules. */
export function isSubscribeFamily(upper: string): boolean {
  return (
    upper === 'SUBSCRIBE' ||
    upper === 'UNSUBSCRIBE' ||
    upper === 'PSUBSCRIBE' ||
    upper === 'PUNSUBSCRIBE' ||
    upper === 'SSUBSCRIBE' ||
    upper === 'SUNSUBSCRIBE'
  );
}

/**
 * Whether argument `index` (0 = the first after the command name) is exported as is. `numkeys`
 * is the ScriptKeys rule's key count (its argument 1), -1 before it is known.
 */
export function argumentKept(rule: ArgRule, index: number, numkeys: number): boolean {
  switch (rule) {
    case ArgRule.FirstKey:
    case ArgRule.KeyThenFields:
      return rule === ArgRule.KeyThenFields || index === 0;
    case ArgRule.AllKeys:
    case ArgRule.Index:
      return true;
    case ArgRule.NoneKept:
      return false;
    case ArgRule.KeyThenFieldValues:
      return index === 0 || index % 2 === 1;
    case ArgRule.KeyValues:
      return index % 2 === 0;
    case ArgRule.Subcommand:
      return index === 0;
    case ArgRule.ScriptKeys:
      // Argument 0 is EVAL's script (a literal) or EVALSHA/FCALL's script name: see namesStoredScript.
      return index === 1 || (index >= 2 && index < 2 + numkeys);
  }
}

/** EVALSHA and FCALL name a stored script (db.stored_procedure.name); EVAL's first argument is the script itself. */
export function namesStoredScript(upper: string): boolean {
  return upper.startsWith('EVALSHA') || upper.startsWith('FCALL');
}
