#!/usr/bin/env bash
# Regenerates test/fixtures/protocols/http2/: real Node http2 and @grpc/grpc-js traffic on
# loopback captured by tcpdump (nanosecond timestamps), the clients' own lists of their calls,
# and tshark's view of every HTTP/2 frame as the tests' oracle. Needs root (or tcpdump's
# capabilities), tcpdump and tshark. --oracle-only reruns tshark on the committed captures.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/fixtures/protocols/http2
node=node_modules/.bin/node
mkdir -p "$out"

oracle() { # name port
  local name=$1 port=$2
  # One line per packet holding HTTP/2 frames: packet, capture time, ports, then per-frame fields
  # (several frames in one packet come comma-separated, in order; optional fields only where present).
  tshark -r "$out/$name.pcap" -d "tcp.port==$port,http2" -Y http2 -T fields -E separator=/t \
    -e frame.number -e frame.time_epoch -e tcp.srcport -e tcp.dstport -e http2.streamid -e http2.type \
    -e http2.flags -e http2.length -e http2.pad_length -e http2.headers.method -e http2.headers.path \
    -e http2.headers.status -e http2.rst_stream.error -e grpc.message_length \
    >"$out/$name.tshark.tsv"
}

capture() { # name port
  local name=$1 port=$2
  tcpdump -i lo -U -s 0 --time-stamp-precision=nano -w "$out/$name.pcap" "tcp port $port" 2>"$out/.tcpdump.log" &
  local dump=$!
  for _ in $(seq 50); do grep -q listening "$out/.tcpdump.log" && break; sleep 0.1; done
  "$node" test/tools/make-http2-captures.ts "$name" "$port" "$out/$name.calls.json"
  sleep 0.5
  kill -INT "$dump"
  wait "$dump" || true
  rm -f "$out/.tcpdump.log"
  oracle "$name" "$port"
}

if [ "${1:-}" = --oracle-only ]; then
  oracle h2c 18080
  oracle grpc 18081
else
  capture h2c 18080
  capture grpc 18081
fi
ls -l "$out"
