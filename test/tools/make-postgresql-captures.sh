#!/usr/bin/env bash
# Regenerates test/fixtures/protocols/postgresql/postgresql.pcap (and its tshark oracle .pgsql.tsv): a real PostgreSQL server
# (Debian's postgresql package, own data dir, own loopback port, SCRAM auth, TLS on) and real
# clients (psql, pgbench), captured by tcpdump on lo with nanosecond timestamps.
# Needs root (tcpdump; the server runs as the postgres user). Usage: bash test/tools/make-postgresql-captures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/fixtures/protocols/postgresql
port=${PG_FIXTURE_PORT:-55432}
bin=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  [ -n "${dump:-}" ] && kill -INT "$dump" 2>/dev/null && wait "$dump" || true
  runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo secret >"$work/pw" && chown postgres "$work" "$work/pw"
runuser -u postgres -- "$bin/initdb" -D "$work/data" -U wirespan -A scram-sha-256 --pwfile="$work/pw" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/data/server.key" -out "$work/data/server.crt" 2>/dev/null
chown postgres "$work/data/server.key" "$work/data/server.crt" && chmod 600 "$work/data/server.key"
runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -w -l "$work/log" start \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c ssl=on" >/dev/null

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=wirespan PGPASSWORD=secret PGGSSENCMODE=disable
psql -q -d postgres -c 'CREATE DATABASE shop' >/dev/null

tcpdump -i lo -U --immediate-mode --nano -n -s 0 -w "$out/postgresql.pcap" "tcp port $port" 2>"$work/dump.log" &
dump=$!
until grep -q 'listening on' "$work/dump.log"; do sleep 0.1; done

# 1. psql, no TLS: simple queries with literals, an error, COPY in and out, two statements in one Query.
psql -X -q -d "dbname=shop sslmode=disable" >/dev/null 2>&1 <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric);
INSERT INTO items VALUES (1, 'apple', 0.5), (2, 'pear', 1.25);
SELECT name, price FROM items WHERE name = 'apple' AND price > 0.1;
SELECT 1/0;
INSERT INTO items VALUES (1, 'duplicate', 9);
COPY items FROM STDIN;
3	plum	2.5
4	fig	3
\.
COPY items TO STDOUT;
BEGIN\; UPDATE items SET price = 7 WHERE id = 3\; COMMIT;
SQL
# 2. Wrong password: the startup exchange ends in ErrorResponse 28P01.
PGPASSWORD=wrong psql -X -d "dbname=shop sslmode=disable" -c 'SELECT 1' >/dev/null 2>&1 || true
# 3. TLS: SSLRequest answered 'S', the rest is encrypted.
psql -X -d "dbname=shop sslmode=require" -c "SELECT 'secret over tls'" >/dev/null
# 4. Extended protocol: Parse/Bind/Describe/Execute/Sync per query (-M extended), prepared once (-M prepared),
#    and a pipeline of three queries under one Sync.
cat >"$work/bench.sql" <<'SQL'
\set id random(1, 4)
SELECT name FROM items WHERE id = :id;
SQL
cat >"$work/pipeline.sql" <<'SQL'
\startpipeline
SELECT count(*) FROM items;
UPDATE items SET price = price + 1 WHERE id = 1;
SELECT 'pipelined';
\endpipeline
SQL
pgbench -n -M extended -t 2 -f "$work/bench.sql" "dbname=shop sslmode=disable" >/dev/null 2>&1
pgbench -n -M prepared -t 2 -f "$work/bench.sql" "dbname=shop sslmode=disable" >/dev/null 2>&1
pgbench -n -M extended -t 1 -f "$work/pipeline.sql" "dbname=shop sslmode=disable" >/dev/null 2>&1
sleep 0.3
kill -INT "$dump" && wait "$dump" || true
dump=
# The oracle: Wireshark's pgsql dissector, one line per frame (time, stream, source port, message types).
tshark -r "$out/postgresql.pcap" -d "tcp.port==$port,pgsql" -Y pgsql -T fields \
  -e frame.time_epoch -e tcp.stream -e tcp.srcport -e pgsql.type 2>/dev/null >"$out/postgresql.pgsql.tsv"
echo "wrote $out/postgresql.pcap ($(stat -c %s "$out/postgresql.pcap") bytes)"
