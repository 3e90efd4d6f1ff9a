#!/usr/bin/env bash
# Regenerates test/fixtures/protocols/mysql/mysql.pcap (and its tshark oracle .mysql.tsv): a real
# MariaDB server (Debian's mariadb-server, own data dir, own loopback port) and real clients (the
# mariadb client, mariadb-admin, Perl DBD::MariaDB with server-side prepared statements), captured
# by tcpdump on lo with nanosecond timestamps. Needs root. Usage: bash test/tools/make-mysql-captures.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=test/fixtures/protocols/mysql
port=${MYSQL_FIXTURE_PORT:-53306}
work=$(mktemp -d)
chmod 755 "$work" && chown mysql "$work"
cleanup() {
  [ -n "${dump:-}" ] && kill -INT "$dump" 2>/dev/null && wait "$dump" || true
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" || true
  rm -rf "$work"
}
trap cleanup EXIT

mariadb-install-db --no-defaults --datadir="$work/data" --user=mysql --auth-root-authentication-method=socket >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/data/server.key" -out "$work/data/server.crt" 2>/dev/null
chown -R mysql "$work/data"
mariadbd --no-defaults --datadir="$work/data" --user=mysql --socket="$work/sock" --port="$port" \
  --bind-address=127.0.0.1 --skip-log-bin --pid-file="$work/pid" --log-error="$work/err.log" \
  --ssl-cert="$work/data/server.crt" --ssl-key="$work/data/server.key" &
server=$!
until mariadb-admin --no-defaults --socket="$work/sock" -uroot ping >/dev/null 2>&1; do sleep 0.2; done
mariadb --no-defaults --socket="$work/sock" -uroot <<'SQL'
CREATE DATABASE shop;
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT ALL ON shop.* TO 'app'@'127.0.0.1';
CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2));
SQL

tcpdump -i lo -U --immediate-mode --nano -n -s 0 -w "$out/mysql.pcap" "tcp port $port" 2>"$work/dump.log" &
dump=$!
until grep -q 'listening on' "$work/dump.log"; do sleep 0.1; done

client=(--no-defaults -h 127.0.0.1 -P "$port" -uapp -psecret --skip-ssl)
# 1. The mariadb client (login with a database): queries with literals, errors (--force goes on), result sets.
mariadb "${client[@]}" -D shop --force >/dev/null 2>&1 <<'SQL' || true
INSERT INTO items VALUES (1, 'apple', 0.50), (2, 'pear', 1.25);
SELECT name, price FROM items WHERE name = 'apple' AND price > 0.1;
SELECT * FROM no_such_table;
INSERT INTO items VALUES (1, 'duplicate', 9);
SELECT id, name FROM items ORDER BY id;
SQL
# 2. Wrong password: the login ends in ERR 1045.
mariadb --no-defaults -h 127.0.0.1 -P "$port" -uapp -pwrong --skip-ssl -e 'SELECT 1' >/dev/null 2>&1 || true
# 3. COM_PING.
mariadb-admin "${client[@]}" ping >/dev/null
# 4. Server-side prepared statements (COM_STMT_PREPARE/EXECUTE/CLOSE) and a ping from DBD::MariaDB.
perl -MDBI -e '
  my $dbh = DBI->connect("DBI:MariaDB:database=shop;host=127.0.0.1;port='"$port"';mariadb_server_prepare=1",
    "app", "secret", { RaiseError => 1, PrintError => 0 });
  my $sth = $dbh->prepare("SELECT name FROM items WHERE id = ?");
  for my $id (1, 2) { $sth->execute($id); while ($sth->fetchrow_arrayref) {} }
  $sth->finish; undef $sth;
  $dbh->do("UPDATE items SET price = ? WHERE id = ?", undef, 2.75, 2);
  $dbh->ping;
  $dbh->disconnect;
'
# 5. TLS: the login's SSLRequest, then encrypted.
mariadb --no-defaults -h 127.0.0.1 -P "$port" -uapp -psecret --ssl -e 'SELECT 1' >/dev/null 2>&1 || true
sleep 0.3
kill -INT "$dump" && wait "$dump" || true
dump=
tshark -r "$out/mysql.pcap" -d "tcp.port==$port,mysql" -Y mysql -T fields \
  -e frame.time_epoch -e tcp.stream -e tcp.srcport -e mysql.packet_number -e mysql.command \
  -e mysql.response_code -e mysql.error_code 2>/dev/null >"$out/mysql.mysql.tsv"
echo "wrote $out/mysql.pcap ($(stat -c %s "$out/mysql.pcap") bytes)"
