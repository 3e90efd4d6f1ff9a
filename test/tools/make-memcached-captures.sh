#!/usr/bin/env bash
# Regenerates test/fixtures/protocols/memcached/: Debian's memcached on a loopback port, text
# protocol clients (Python sockets: one write per command, or many in one write), captured
# by tcpdump. Run as root; needs memcached, tcpdump, and tshark for the oracle (oracle.tsv:
# tshark's memcache dissector, one line per request and reply).
set -euo pipefail
cd "$(dirname "$0")/../fixtures/protocols/memcached"
port=${MEMCACHED_PORT:-11311}
work=$(mktemp -d)
trap 'kill "${server:-}" "${dump:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

memcached -u root -l 127.0.0.1 -p "$port" -U 0 -m 16 >"$work/server.log" 2>&1 &
server=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done # bash's /dev/tcp: up

tcpdump -i lo -U --immediate-mode --nano -n -s 0 -Z root -w "$work/memcached.pcap" "tcp port $port" 2>"$work/dump.log" &
dump=$!
until grep -q 'listening on' "$work/dump.log"; do sleep 0.1; done

# The client: Python's socket module, one sendall per argument (a command, or many pipelined);
# after each, it reads until every reply to what it sent is complete (END/STORED/... lines).
session() {
  python3 - "$port" "$@" <<'PY'
import socket, sys, time
port, writes = int(sys.argv[1]), sys.argv[2:]
# Lines that end a reply (the values stored here never look like them).
terminal = {b"STORED", b"NOT_STORED", b"EXISTS", b"NOT_FOUND", b"END", b"DELETED", b"TOUCHED", b"ERROR"}
prefixes = (b"CLIENT_ERROR", b"SERVER_ERROR", b"VERSION")
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for w in writes:
    data = w.encode().decode("unicode_escape").encode("latin1").replace(b"{BIG}", b"v" * 204800)
    s.sendall(data)
    # Replies due: one per command line that does not end in noreply (data lines are not commands).
    lines = [l for l in data.split(b"\r\n") if l.split(b" ")[0] in (b"set", b"add", b"cas", b"get", b"gets", b"incr", b"touch", b"delete", b"bogus", b"version", b"stats")]
    due = sum(1 for l in lines if not l.endswith(b"noreply"))
    got = b""
    while due > 0:
        got += s.recv(1 << 20)
        ends = sum(1 for l in got.split(b"\r\n") if l in terminal or l.startswith(prefixes) or l.isdigit())
        if ends >= due: break
    time.sleep(0.05)
s.close()
time.sleep(0.2)
PY
}

# 1. Storage, retrieval (multi-key, gets), cas, incr, delete, touch, errors, noreply.
session 'set user:1 0 0 12\r\nalice secret\r\n' 'add user:1 0 0 1\r\nx\r\n' 'get user:1\r\n' \
  'set user:2 5 60 3\r\nbob\r\n' 'get user:1 user:2 nosuchkey\r\n' 'gets user:2\r\n' \
  'cas user:2 0 0 3 999999\r\neve\r\n' 'set counter 0 0 1\r\n7\r\n' 'incr counter 5\r\n' \
  'incr user:1 1\r\n' 'touch user:2 100\r\n' 'delete user:2\r\n' 'delete user:2\r\n' \
  'set quiet 0 0 3 noreply\r\nabc\r\n' 'bogus command\r\n' 'get user:1\r\n' 'version\r\n'
# 2. Pipelined: 20 commands in one write.
pipelined=''
for i in $(seq 1 20); do pipelined+="set pipe:$i 0 0 1\\r\\n$((i % 10))\\r\\n"; done
session "$pipelined"
# 3. A 200 KiB value both ways (many segments each way), then stats (STAT lines then END).
session 'set big 0 0 204800\r\n{BIG}\r\n' 'get big\r\n' 'stats\r\n'

kill -INT "$dump"
wait "$dump" || true
cp "$work/memcached.pcap" memcached.pcap
if command -v tshark >/dev/null 2>&1; then
  tshark -r memcached.pcap -Y 'tcp.len > 0' -T fields -e tcp.stream -e tcp.srcport -e frame.time_epoch -e tcp.len >frames.tsv
  # One line per memcache PDU: stream, source port, epoch time (ns), command, response, key.
  tshark -r memcached.pcap -d "tcp.port==$port,memcache" -Y memcache -T fields -e tcp.stream -e tcp.srcport \
    -e frame.time_epoch -e memcache.command -e memcache.response -e memcache.key >oracle.tsv
fi
ls -l memcached.pcap
