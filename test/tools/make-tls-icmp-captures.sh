#!/usr/bin/env bash
# make-tls-icmp-captures.sh: record the TLS handshake and ICMP echo fixtures with their tshark oracle.
#
# Everything runs inside a private network namespace (unshare --net): its own loopback, so no
# other traffic on the machine ends up in the captures and the ports are always free. Real
# nginx (self-signed certificate from openssl, TLS 1.2 and 1.3, HTTP/2), real curl and openssl
# s_client clients, real ping, captured by real tcpdump (-i lo -U --nano, Ethernet link type).
#
# test/fixtures/protocols/tls/handshakes.pcap (nginx on 127.0.0.1:443 and [::1]:443):
#   1. curl TLS 1.2 only (--tlsv1.2 --tls-max 1.2), ALPN http/1.1, SNI tls.wirespan.test
#   2. curl TLS 1.3, ALPN h2 + http/1.1 (h2 selected), SNI tls.wirespan.test
#   3. curl TLS 1.3 over IPv6 to [::1], SNI tls.wirespan.test
#   4. curl TLS 1.2 with one cipher suite forced (ECDHE-RSA-AES256-GCM-SHA384)
#   5. curl TLS 1.3 with SNI other.wirespan.test: the default server has ssl_reject_handshake on,
#      so the server answers the ClientHello with a fatal unrecognized_name alert
#   6. curl offering at most TLS 1.2 to port 8443, where nginx speaks TLS 1.3 only: a fatal
#      protocol_version alert (and a TLS port other than 443)
# test/fixtures/protocols/icmp/echo.pcap:
#   ping -c 3 127.0.0.1 and ping -6 -c 3 ::1 (answered), then with echo replies turned off in
#   the namespace (net.ipv4.icmp_echo_ignore_all, net.ipv6.icmp.echo_ignore_all) ping -c 2
#   127.0.0.1 and ping -6 -c 2 ::1 (unanswered)
# Oracles (tshark's view, tab-separated, beside each capture): *.tshark.tsv, see MANIFEST.md.
#
# Usage (as root, on a Debian developer machine; not run in CI):
#   apt-get install -y nginx tshark tcpdump curl openssl iputils-ping util-linux
#   test/tools/make-tls-icmp-captures.sh
# Re-running records the same exchanges with new timestamps, ports, ids, keys and randoms.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tls_dir=$repo_root/test/fixtures/protocols/tls
icmp_dir=$repo_root/test/fixtures/protocols/icmp

if [[ $(id -u) -ne 0 ]]; then
  echo "make-tls-icmp-captures: must run as root (network namespace, tcpdump)" >&2
  exit 1
fi
for tool in nginx tshark tcpdump curl openssl ping unshare; do
  if ! command -v "$tool" >/dev/null; then
    echo "make-tls-icmp-captures: '$tool' not found; apt-get install -y nginx tshark tcpdump curl openssl iputils-ping util-linux" >&2
    exit 1
  fi
done

# Re-run inside a fresh network namespace: only our own packets on its loopback.
if [[ ${WIRESPAN_IN_NETNS:-} != 1 ]]; then
  exec env WIRESPAN_IN_NETNS=1 unshare --net "$0" "$@"
fi
ip link set lo up

work=$(mktemp -d)
nginx_pid=""
capture_pid=""
# A failed step must not leave nginx or tcpdump running.
cleanup() {
  [[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null || true
  [[ -n $nginx_pid ]] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$tls_dir" "$icmp_dir" "$work/logs"

# tcpdump writes every packet at once (-U, --immediate-mode); give it a moment to open the interface, and after the last
# packet a moment to flush before it is stopped.
start_capture() { # file filter...
  local file=$1
  shift
  tcpdump -i lo -U --immediate-mode --nano -s 0 -w "$file" "$@" 2>"$work/logs/tcpdump.log" &
  capture_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$work/logs/tcpdump.log" && break; sleep 0.1; done
}
stop_capture() {
  sleep 1
  kill -INT "$capture_pid"
  wait "$capture_pid" || true
  capture_pid=""
}

# --- TLS ------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tls.wirespan.test" \
  -addext "subjectAltName=DNS:tls.wirespan.test" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
mkdir -p "$work/html"
echo "hello over tls" >"$work/html/index.html"
cat >"$work/nginx.conf" <<EOF
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log $work/logs/access.log;
  client_body_temp_path $work;
  proxy_temp_path $work;
  fastcgi_temp_path $work;
  uwsgi_temp_path $work;
  scgi_temp_path $work;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  # An unknown SNI gets a fatal unrecognized_name alert instead of a ServerHello.
  server {
    listen 127.0.0.1:443 ssl default_server;
    listen [::1]:443 ssl default_server;
    ssl_reject_handshake on;
  }
  server {
    listen 127.0.0.1:443 ssl http2;
    listen [::1]:443 ssl http2;
    server_name tls.wirespan.test;
    root $work/html;
  }
  server {
    listen 127.0.0.1:8443 ssl;
    ssl_protocols TLSv1.3;
    server_name tls.wirespan.test;
    root $work/html;
  }
}
EOF
nginx -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do [[ -s $work/nginx.pid ]] && break; sleep 0.1; done
if [[ ! -s $work/nginx.pid ]]; then
  echo "make-tls-icmp-captures: nginx did not start" >&2
  exit 1
fi

tls_pcap=$tls_dir/handshakes.pcap
start_capture "$tls_pcap" tcp port 443 or tcp port 8443
v4=(--resolve tls.wirespan.test:443:127.0.0.1 --resolve other.wirespan.test:443:127.0.0.1 --cacert "$work/cert.pem" -s -o /dev/null)
curl "${v4[@]}" --tlsv1.2 --tls-max 1.2 --http1.1 https://tls.wirespan.test/
sleep 0.2
curl "${v4[@]}" --tlsv1.3 --http2 https://tls.wirespan.test/
sleep 0.2
curl --resolve tls.wirespan.test:443:::1 --cacert "$work/cert.pem" -s -o /dev/null --tlsv1.3 https://tls.wirespan.test/
sleep 0.2
curl "${v4[@]}" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384 https://tls.wirespan.test/
sleep 0.2
curl "${v4[@]}" --tlsv1.3 https://other.wirespan.test/ || true # refused: alert
sleep 0.2
# Port 8443 speaks TLS 1.3 only: a client that offers at most 1.2 gets a protocol_version alert.
curl --resolve tls.wirespan.test:8443:127.0.0.1 --cacert "$work/cert.pem" -s -o /dev/null --tlsv1.2 --tls-max 1.2 \
  https://tls.wirespan.test:8443/ || true # refused: alert
stop_capture

tshark -r "$tls_pcap" -Y 'tls.handshake.type or tls.alert_message or tls.record.content_type == 20' -T fields -E occurrence=a -E aggregator=, \
  -e frame.number -e frame.time_epoch -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport \
  -e tls.handshake.type -e tls.handshake.extensions_server_name -e tls.handshake.ciphersuite \
  -e tls.handshake.extensions_alpn_str -e tls.handshake.extensions.supported_version \
  -e tls.record.content_type -e tls.alert_message.level -e tls.alert_message.desc \
  >"${tls_pcap%.pcap}.tshark.tsv"

# --- ICMP -----------------------------------------------------------------------------------
icmp_pcap=$icmp_dir/echo.pcap
start_capture "$icmp_pcap" icmp or icmp6
ping -c 3 -i 0.2 127.0.0.1 >/dev/null
ping -6 -c 3 -i 0.2 ::1 >/dev/null
sysctl -q -w net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1
ping -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null || true # unanswered
ping -6 -c 2 -i 0.2 -W 1 ::1 >/dev/null || true     # unanswered
stop_capture

tshark -r "$icmp_pcap" -Y 'icmp.type == 0 or icmp.type == 8 or icmpv6.type == 128 or icmpv6.type == 129' \
  -T fields -e frame.number -e frame.time_epoch -e icmp.type -e icmpv6.type -e icmp.ident -e icmpv6.echo.identifier \
  -e icmp.seq -e icmpv6.echo.sequence_number -e icmp.resp_to -e icmpv6.resp_to -e icmp.resptime -e icmpv6.resptime \
  >"${icmp_pcap%.pcap}.tshark.tsv"

ls -l "$tls_dir" "$icmp_dir"
