#!/usr/bin/env bash
# Regenerates test/fixtures/protocols/redis/: a real redis-server (Debian's) on a loopback port,
# real redis-cli sessions, captured by tcpdump. Run as root (tcpdump); needs redis-server,
# redis-cli, tcpdump, openssl. The expected requests are in MANIFEST.md (the client's own list:
# Wireshark 4.0 has no RESP dissector); frames.tsv is tshark's list of the data frames (the
# timestamp oracle), written when tshark is installed.
set -euo pipefail
cd "$(dirname "$0")/../fixtures/protocols/redis"
port=${REDIS_PORT:-16379}
work=$(mktemp -d)
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; kill "${dump:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/server.log" 2>&1 &
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

tcpdump -i lo -U --immediate-mode --nano -n -s 0 -Z root -w "$work/redis.pcap" "tcp port $port" 2>"$work/dump.log" &
dump=$!
until grep -q 'listening on' "$work/dump.log"; do sleep 0.1; done
pause() { sleep 0.3; }

# 1. RESP2, one command at a time (redis-cli reads stdin line by line), database 2 (-n 2 sends SELECT 2).
redis-cli -p "$port" -n 2 >/dev/null <<'CMDS'
SET user:1 "alice secret"
GET user:1
HSET session:9 token abc123 ttl 30
HGET session:9 token
INCR counter
LPUSH queue a b c
GET nosuchkey
INCR user:1
HGET user:1 x
AUTH nouser badpass
MULTI
SET k1 v1
INCR k2
EXEC
MGET user:1 k1 k2
EVAL "return redis.call('GET', KEYS[1])" 1 user:1
DEL k1 k2
CMDS
pause

# 2. RESP3 (-3 sends HELLO 3): a map reply, a double, an error.
redis-cli -3 -p "$port" >/dev/null <<'CMDS'
HSET h f1 one f2 two
HGETALL h
ZADD z 1.5 m
ZSCORE z m
LPOP h
CMDS
pause

# 3. Pub/sub, RESP2 and RESP3: SUBSCRIBE naming 2 channels (2 confirmations), then messages.
timeout 2 redis-cli -p "$port" SUBSCRIBE news sport >/dev/null &
resp2=$!
timeout 2 redis-cli -3 -p "$port" SUBSCRIBE news >/dev/null &
resp3=$!
sleep 0.7
redis-cli -p "$port" PUBLISH news hello >/dev/null
redis-cli -p "$port" PUBLISH sport goal >/dev/null
wait "$resp2" "$resp3" || true
pause

# 4. 20 commands pipelined in one write (--pipe adds its own ECHO after them).
for i in $(seq 1 20); do
  key="pipe:$i"
  printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n%d\r\n' "${#key}" "$key" $((i % 10))
done | redis-cli -p "$port" --pipe >/dev/null
pause

# 5. A 256 KiB value both ways (many segments each way).
head -c 262144 /dev/zero | tr '\0' 'x' | redis-cli -p "$port" -x SET big >/dev/null
pause
redis-cli -p "$port" GET big >/dev/null
pause

# 6. Not RESP on the Redis port: a TLS ClientHello (Redis answers -ERR lines to the binary junk).
timeout 2 openssl s_client -connect "127.0.0.1:$port" </dev/null >/dev/null 2>&1 || true
pause

kill -INT "$dump"
wait "$dump" || true
cp "$work/redis.pcap" redis.pcap
if command -v tshark >/dev/null 2>&1; then
  # One line per data frame: stream, source port, epoch time (ns), payload length.
  tshark -r redis.pcap -Y 'tcp.len > 0' -T fields -e tcp.stream -e tcp.srcport -e frame.time_epoch -e tcp.len \
    -o 'gui.column.format:"t","%t"' >frames.tsv
fi
ls -l redis.pcap
