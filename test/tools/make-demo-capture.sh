#!/usr/bin/env bash
# make-demo-capture.sh: record test/fixtures/demo.pcap, the capture `npm run demo` replays.
#
# It runs small real servers on loopback (dnsmasq for DNS, nginx for HTTP, an ncat NTP
# responder), captures their traffic with tcpdump and drives a fixed script of clients (dig,
# curl, ncat, bash /dev/udp) against them, so the capture holds real kernel/TCP behaviour and
# real server responses while its content (which exchanges, which answers) is the same on
# every run. Only the timestamps, ephemeral ports, TCP sequence numbers and DNS IDs differ.
#
# What ends up in the capture (all on the loopback interface, Ethernet link type, ns timestamps):
#   DNS   11 UDP queries to dnsmasq on 127.0.0.153:53 (A, AAAA, AAAA NODATA, CNAME chain, MX,
#         TXT, SRV, PTR, two NXDOMAIN), 1 query over TCP (dig +tcp), and 1 query to
#         127.0.0.154:53 where nothing listens (unanswered; the kernel's ICMP port-unreachable
#         is captured too)
#   HTTP  nginx on 127.0.0.1:8080 and [::1]:8080: GET 200, GET 404, GET 500, HEAD, POST 201,
#         3 requests on one keep-alive connection, a query string with a secret (wirespan
#         redacts it), a W3C traceparent header, a slow rate-limited download, one request over
#         IPv6, and 2 pipelined requests sent raw in one segment
#   UDP   an NTP client request/server reply on 127.0.0.1:123, and an SNMP GetRequest to
#         127.0.0.1:161 where nothing listens (unanswered)
#   TCP   every HTTP/DNS-over-TCP connection's SYN/SYN-ACK, plus a connection attempt to
#         db.demo.test (127.0.0.11) port 5432, which nothing serves: SYN answered by RST
#
# Usage (as root, on a Debian/Ubuntu developer machine; not run in CI):
#   apt-get install -y tcpdump dnsmasq nginx-light dnsutils curl ncat xxd iproute2
#   test/tools/make-demo-capture.sh [OUTPUT.pcap]     # default: test/fixtures/demo.pcap
#
# It needs these loopback ports free: 127.0.0.153:53 (udp+tcp), 127.0.0.1:8080, [::1]:8080 and
# 127.0.0.1:123 (udp); and nothing listening on 127.0.0.154:53, 127.0.0.1:161 (udp) or
# 127.0.0.11:5432. 127.0.0.153 rather than 127.0.0.53 so it does not clash with
# systemd-resolved. Nothing is installed or changed outside a temporary directory.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$repo_root/test/fixtures/demo.pcap}

# Addresses and ports used below (all loopback).
dns_ip=127.0.0.153     # dnsmasq
dead_dns_ip=127.0.0.154 # a "second resolver" that is down: its query goes unanswered
web_ip=127.0.0.1       # nginx (also on [::1])
web_port=8080
db_ip=127.0.0.11       # db.demo.test: nothing listens on its port 5432
db_port=5432
ntp_port=123           # NTP responder on 127.0.0.1
snmp_port=161          # nothing listens: the SNMP request goes unanswered

# --- 0. Preconditions --------------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  echo "make-demo-capture: must run as root (tcpdump, port 53 and 123)" >&2
  exit 1
fi
for tool in tcpdump dnsmasq nginx dig curl ncat xxd ss; do
  if ! command -v "$tool" >/dev/null; then
    echo "make-demo-capture: '$tool' not found; apt-get install -y tcpdump dnsmasq nginx-light dnsutils curl ncat xxd iproute2" >&2
    exit 1
  fi
done
# A port that is already taken (or, for the "unanswered" ones, already served) would change
# what the capture shows, so refuse to run rather than record something else.
busy=$(ss -Hlntu "( sport = :53 or sport = :$web_port or sport = :$ntp_port or sport = :$snmp_port or sport = :$db_port )" |
  awk -v a="$dns_ip" -v b="$dead_dns_ip" -v w="$web_ip" -v d="$db_ip" '
    { split($5, p, ":"); port = p[length(p)]; host = substr($5, 1, length($5) - length(port) - 1) }
    host == a || host == b || host == w || host == d || host == "[::1]" || host == "0.0.0.0" || host == "*" || host == "[::]" { print }')
if [[ -n $busy ]]; then
  echo "make-demo-capture: ports needed by the demo are in use:" >&2
  echo "$busy" >&2
  exit 1
fi

# --- 1. Temporary directory, process bookkeeping and cleanup ------------------------------
work=$(mktemp -d /tmp/wirespan-demo.XXXXXX)
chmod 755 "$work" # dnsmasq drops privileges; nginx and tcpdump run as root (see below)
pids=()
tcpdump_pid=
cleanup() {
  local status=$?
  # tcpdump first, with SIGINT, so it writes out what it buffered (-U flushes per packet anyway).
  if [[ -n $tcpdump_pid ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
  fi
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    echo "make-demo-capture: failed (exit $status); server logs:" >&2
    tail -n 20 "$work"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Poll until a command succeeds (5 s at most).
wait_for() {
  local what=$1
  shift
  for _ in $(seq 50); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "make-demo-capture: $what did not come up" >&2
  return 1
}

# A short gap between exchanges, so the replay shows them one after another as a person would.
gap() { sleep 0.2; }

# --- 2. DNS server: dnsmasq on 127.0.0.153:53 ----------------------------------------------
# No config file, no /etc/hosts, no upstream servers (--no-resolv): it answers only from the
# records below, so nothing leaves the machine.
#   api.demo.test    A 127.0.0.1 and AAAA ::1 (host-record, which also gives the PTR record)
#   www.demo.test    CNAME api.demo.test
#   db.demo.test     A 127.0.0.11 only (host-record: its AAAA query gets NOERROR with no
#                    answer, NODATA; an --address name would get NXDOMAIN under --local)
#   cache.demo.test  A 127.0.0.12 (--address; looked up over TCP)
#   blocked.demo.test  --address=/name/ with no address: NXDOMAIN
#   demo.test        MX, TXT and an SRV record for _http._tcp
#   anything else under demo.test: NXDOMAIN (--local), e.g. missing.demo.test
dnsmasq --no-daemon --conf-file=/dev/null --no-hosts --no-resolv \
  --listen-address="$dns_ip" --bind-interfaces --port=53 \
  --pid-file= --log-queries --log-facility=- \
  --local=/demo.test/ \
  --host-record=api.demo.test,127.0.0.1,::1 \
  --cname=www.demo.test,api.demo.test \
  --host-record=db.demo.test,"$db_ip" \
  --address=/cache.demo.test/127.0.0.12 \
  --address=/blocked.demo.test/ \
  --mx-host=demo.test,mail.demo.test,10 \
  --txt-record=demo.test,"v=wirespan-demo" \
  --srv-host=_http._tcp.demo.test,api.demo.test,"$web_port",0,10 \
  >"$work/dnsmasq.log" 2>&1 &
pids+=($!)
wait_for "dnsmasq on $dns_ip:53" dig @"$dns_ip" +time=1 +tries=1 +short api.demo.test A

# --- 3. HTTP server: nginx on 127.0.0.1:8080 and [::1]:8080 --------------------------------
# A throw-away config and document root in $work. One process (master_process off) in the
# foreground (daemon off) so it can be stopped by PID. Keep-alive is on (nginx's default, made
# explicit). Paths:
#   /                      index.html (200)
#   /static/app.css|.js    static files (200; HEAD is asked of app.css)
#   /api/users/1, /2       static JSON documents (200)
#   /api/health            `return 200` with a JSON body
#   /api/orders            `return 201` with a JSON body (answers the POST)
#   /search                `return 200` (asked with ?user=alice&token=secret)
#   /error                 `return 500;` (nginx's own error page)
#   /download/report.bin   32 KiB sent at 12 KiB/s (limit_rate): a response that takes ~2.5 s
#   anything else          404
mkdir -p "$work/www/static" "$work/www/api/users" "$work/www/download" "$work/nginx-temp"
cat >"$work/www/index.html" <<'EOF'
<!doctype html>
<html><head><title>demo.test</title><link rel="stylesheet" href="/static/app.css"></head>
<body><h1>demo.test</h1><script src="/static/app.js"></script></body></html>
EOF
echo 'body { font-family: sans-serif; margin: 2em; }' >"$work/www/static/app.css"
echo 'fetch("/api/users/1").then((r) => r.json()).then(console.log);' >"$work/www/static/app.js"
echo '{"id":1,"name":"alice"}' >"$work/www/api/users/1"
echo '{"id":2,"name":"bob"}' >"$work/www/api/users/2"
# Deterministic content: the same 32 KiB on every run.
# (process substitution: under pipefail, `yes | head` would fail on yes's SIGPIPE)
head -c 32768 < <(yes 'wirespan demo report line') >"$work/www/download/report.bin"
cat >"$work/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log notice;
events { worker_connections 64; }
http {
  access_log $work/nginx-access.log;
  client_body_temp_path $work/nginx-temp/body;
  proxy_temp_path $work/nginx-temp/proxy;
  fastcgi_temp_path $work/nginx-temp/fastcgi;
  types { text/html html; text/css css; application/javascript js; }
  default_type application/octet-stream;
  keepalive_timeout 30s;
  keepalive_requests 100;
  server {
    listen $web_ip:$web_port;
    listen [::1]:$web_port;
    server_name api.demo.test;
    root $work/www;
    location / { index index.html; }
    location /api/users/ { default_type application/json; }
    location = /api/health { default_type application/json; return 200 '{"status":"ok"}\n'; }
    location = /api/orders { default_type application/json; return 201 '{"id":42,"status":"created"}\n'; }
    location = /search { default_type application/json; return 200 '{"results":[]}\n'; }
    location = /error { return 500; }
    location /download/ { limit_rate 12k; }
  }
}
EOF
# -e: error log before the config is read (else nginx opens /var/log/nginx/error.log first).
nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" >"$work/nginx.log" 2>&1 &
pids+=($!)
wait_for "nginx on $web_ip:$web_port" curl -sf -o /dev/null "http://$web_ip:$web_port/api/health"

# --- 4. NTP responder: ncat on 127.0.0.1:123/udp -------------------------------------------
# ncat hands the first datagram to a small script that answers like an NTP server (mode 4,
# stratum 1, refid LOCL), copying the client's transmit timestamp into the origin field as a
# real server does. One exchange, then ncat exits.
# Few processes (process start-up is most of its reply time): no `date` (bash's EPOCHREALTIME),
# no command substitutions, one xxd to read and one to write.
cat >"$work/ntp-reply.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
ntp_now() { # $1 := NTP timestamp (seconds since 1900 . 32-bit fraction) as 16 hex digits
  local t=$EPOCHREALTIME
  printf -v "$1" '%08x%08x' $((${t%.*} + 2208988800)) $((10#${t#*.} * 4294967296 / 1000000))
}
read -r request < <(xxd -p -c 48 -l 48)
ntp_now received
origin=${request:80:16} # the client's transmit timestamp
ntp_now transmit
# LI 0, version 4, mode 4 (server); stratum 1; poll 6; precision -20; root delay 0;
# root dispersion 1/65536 s; reference id "LOCL"; reference, origin, receive, transmit times.
printf '%s' 240106ec 00000000 00000001 4c4f434c "$received" "$origin" "$received" "$transmit" | xxd -r -p
EOF
ncat -u -l "$web_ip" "$ntp_port" --exec "/bin/bash $work/ntp-reply.sh" >"$work/ncat-ntp.log" 2>&1 &
pids+=($!)
wait_for "ncat on $web_ip:$ntp_port/udp" bash -c "ss -Hlnu 'sport = :$ntp_port' | grep -q ."

# --- 5. Start the capture --------------------------------------------------------------------
# -i lo: loopback only. -U: write each packet as it arrives. --nano: nanosecond timestamps.
# -Z root: keep root after opening the file (the temp dir path is ours). The filter keeps only
# the demo's own traffic (plus the ICMP port-unreachables its unanswered UDP provokes), so
# anything else on loopback at the time stays out. BPF's 'and'/'or' bind equally, hence the
# brackets.
filter="(port 53 and (host $dns_ip or host $dead_dns_ip))"
filter+=" or (port $web_port and (host $web_ip or host ::1))"
filter+=" or (host $web_ip and (udp port $ntp_port or udp port $snmp_port))"
filter+=" or (host $db_ip and tcp port $db_port)"
filter+=" or (icmp[icmptype] == icmp-unreach)"
tcpdump -i lo -U --nano -Z root -w "$work/capture.pcap" "$filter" >"$work/tcpdump.log" 2>&1 &
tcpdump_pid=$!
wait_for "tcpdump" grep -q 'listening on' "$work/tcpdump.log"
sleep 0.5

# --- 6. Traffic --------------------------------------------------------------------------------
# 6a. DNS with dig. One try each (+tries=1) so no query is retransmitted; EDNS and cookies as
# dig sends them by default.
echo "== DNS ($dns_ip:53)"
q() {
  local out
  out=$(dig +time=2 +tries=1 "$@" 2>&1 || true)
  printf '  dig %-44s %s\n' "$*" "$(sed -n 's/.*status: \([A-Z]*\).*/\1/p; /communications error/{s/^;; //p}' <<<"$out" | head -n 1)"
  gap
}
q @"$dns_ip" api.demo.test A
q @"$dns_ip" api.demo.test AAAA
q @"$dns_ip" www.demo.test A
q @"$dns_ip" db.demo.test A
q @"$dns_ip" db.demo.test AAAA
q @"$dns_ip" blocked.demo.test A
q @"$dns_ip" missing.demo.test A
q @"$dns_ip" demo.test MX
q @"$dns_ip" demo.test TXT
q @"$dns_ip" _http._tcp.demo.test SRV
q @"$dns_ip" -x 127.0.0.1
q @"$dns_ip" +tcp cache.demo.test A
# Nothing listens here: the kernel answers with ICMP port unreachable, the DNS query never
# gets a DNS response.
q @"$dead_dns_ip" api.demo.test A

# 6b. HTTP with curl. --resolve makes curl connect to nginx while sending Host: api.demo.test,
# as a client that had looked the name up would.
echo "== HTTP ($web_ip:$web_port, [::1]:$web_port)"
base="http://api.demo.test:$web_port"
c() {
  printf '  curl %s\n' "$*"
  curl -sS -o /dev/null -w '    -> %{http_code} (%{num_connects} new connection(s))\n' \
    --resolve "api.demo.test:$web_port:$web_ip" --max-time 10 "$@"
  gap
}
c "$base/"                                  # 200
c "$base/missing.html"                      # 404
c "$base/error"                             # 500 (return 500;)
c -I "$base/static/app.css"                 # HEAD 200
c -X POST -H 'Content-Type: application/json' --data '{"item":"widget","qty":2}' "$base/api/orders" # 201
# 3 requests on 1 keep-alive connection (c gives the first URL its -o, these the other two)
c -o /dev/null -o /dev/null "$base/api/users/1" "$base/api/users/2" "$base/static/app.js"
c "$base/search?user=alice&token=secret"    # query string that wirespan redacts
c -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' "$base/api/health"
c "$base/download/report.bin"               # slow: 32 KiB at 12 KiB/s
# IPv6: the same server over ::1.
printf '  curl -6 %s\n' "http://[::1]:$web_port/api/health"
curl -sS -6 -o /dev/null -w '    -> %{http_code}\n' --max-time 10 \
  --resolve "api.demo.test:$web_port:[::1]" "$base/api/health"
gap
# Pipelining: two requests written in one go before any response is read; nginx answers them
# in order on the same connection and closes after the second (Connection: close). ncat
# half-closes after sending and reads until the server closes.
printf '  ncat: 2 pipelined requests\n'
printf 'GET /api/users/1 HTTP/1.1\r\nHost: api.demo.test:%s\r\nUser-Agent: ncat-pipeline\r\nAccept: */*\r\n\r\nGET /api/health HTTP/1.1\r\nHost: api.demo.test:%s\r\nUser-Agent: ncat-pipeline\r\nAccept: */*\r\nConnection: close\r\n\r\n' \
  "$web_port" "$web_port" |
  timeout 10 ncat "$web_ip" "$web_port" | sed -n 's/^\(HTTP\/1\.1 .*\)\r$/    -> \1/p'
gap

# 6c. UDP request/reply: an NTP client request (48 bytes: LI 0, version 4, mode 3, transmit
# timestamp = now) to the responder, read its reply; then one SNMPv2c GetRequest for
# sysDescr.0 (community "public") to port 161, where nothing listens.
echo "== UDP ($web_ip:$ntp_port, $web_ip:$snmp_port)"
now=$EPOCHREALTIME
ntp_request=$(printf '230006e8%072d%08x%08x' 0 $((${now%.*} + 2208988800)) $((10#${now#*.} * 4294967296 / 1000000)))
exec 3<>"/dev/udp/$web_ip/$ntp_port"
xxd -r -p <<<"$ntp_request" >&3
ntp_reply=$(timeout 3 head -c 48 <&3 | xxd -p | tr -d '\n' || true)
exec 3>&-
printf '  NTP request -> reply %s\n' "${ntp_reply:0:8}${ntp_reply:+...}"
gap
snmp_get='302902010104067075626c6963a01c0204'$(printf '%08x' 1234567)'020100020100300e300c06082b060102010101000500'
xxd -r -p <<<"$snmp_get" >"/dev/udp/$web_ip/$snmp_port"
printf '  SNMP GetRequest sysDescr.0 -> (no listener)\n'
gap

# 6d. TCP: a client that resolved db.demo.test tries its PostgreSQL port; nothing listens, so
# the kernel answers the SYN with RST (connection refused), no SYN-ACK.
echo "== TCP ($db_ip:$db_port)"
if ncat -z -w 2 "$db_ip" "$db_port" 2>/dev/null; then
  echo "make-demo-capture: something answered on $db_ip:$db_port" >&2
  exit 1
fi
printf '  connect %s:%s -> refused\n' "$db_ip" "$db_port"

# --- 7. Stop the capture and write the file ---------------------------------------------------
# Let the last packets (FINs, ICMP) arrive, then SIGINT tcpdump: it flushes and reports counts.
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
grep -E 'packets (captured|received|dropped)' "$work/tcpdump.log" | sed 's/^/  tcpdump: /'
mkdir -p "$(dirname "$out")"
cp "$work/capture.pcap" "$out"
chmod 644 "$out"
echo "wrote $out ($(stat -c %s "$out") bytes, $(tcpdump -nr "$out" 2>/dev/null | wc -l) packets)"
