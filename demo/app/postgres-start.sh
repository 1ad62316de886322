#!/bin/sh
# Start PostgreSQL in the sutazai-chaos demo image (an imported rootfs: no
# /run/postgresql, no entrypoint). Uses the cluster Debian's package created,
# or runs initdb when there is none, listens on all addresses, trusts the
# container's own networks (samenet) and localhost, asks for a password
# (md5) from anywhere else, and creates db "demo" with table "items".
set -eu

PGUSER_NAME="${POSTGRES_USER:-demo}"
PGPASS="${POSTGRES_PASSWORD:-demo}"
PGDB="${POSTGRES_DB:-demo}"

VER="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
BIN="/usr/lib/postgresql/$VER/bin"
DATA="/var/lib/postgresql/$VER/main"
CONF="/etc/postgresql/$VER/main/postgresql.conf"
HBA=/var/lib/postgresql/sutazai-demo-hba.conf

install -d -o postgres -g postgres -m 2775 /run/postgresql

if [ ! -s "$DATA/PG_VERSION" ]; then
    echo "postgres-start: no cluster found, running initdb in $DATA"
    rm -rf "$DATA"
    install -d -o postgres -g postgres -m 0700 "$DATA"
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$BIN/initdb" -D "$DATA" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    CONF="$DATA/postgresql.conf"
fi
[ -f "$CONF" ] || CONF="$DATA/postgresql.conf"

cat > "$HBA" <<HBAEOF
local   all  all                trust
host    all  all  127.0.0.1/32  trust
host    all  all  ::1/128       trust
host    all  all  samenet       trust
host    all  all  0.0.0.0/0     md5
host    all  all  ::/0          md5
HBAEOF
chown postgres:postgres "$HBA"

# A container restarted after a crash keeps its filesystem: the old
# postmaster.pid is stale (nothing else can run here yet).
rm -f "$DATA/postmaster.pid"

setpriv --reuid=postgres --regid=postgres --init-groups \
    "$BIN/postgres" -D "$DATA" -c config_file="$CONF" \
    -c hba_file="$HBA" -c listen_addresses='*' -c ssl=off \
    -c unix_socket_directories=/run/postgresql \
    -c external_pid_file=/run/postgresql/postgres.pid &
PG_PID=$!
trap 'kill -TERM "$PG_PID" 2>/dev/null' TERM INT QUIT

i=0
until pg_isready -q -h /run/postgresql -U postgres; do
    i=$((i + 1))
    if [ "$i" -gt 60 ] || ! kill -0 "$PG_PID" 2>/dev/null; then
        echo "postgres-start: postgres did not come up" >&2
        exit 1
    fi
    sleep 0.5
done

psql_su() { setpriv --reuid=postgres --regid=postgres --init-groups psql -h /run/postgresql -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ -z "$(psql_su -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$PGUSER_NAME'")" ]; then
    psql_su -d postgres -c "CREATE ROLE \"$PGUSER_NAME\" LOGIN PASSWORD '$PGPASS'"
fi
if [ -z "$(psql_su -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PGDB'")" ]; then
    psql_su -d postgres -c "CREATE DATABASE \"$PGDB\" OWNER \"$PGUSER_NAME\""
fi
setpriv --reuid=postgres --regid=postgres --init-groups \
    psql -h /run/postgresql -v ON_ERROR_STOP=1 -q -U "$PGUSER_NAME" -d "$PGDB" <<'SQL'
CREATE TABLE IF NOT EXISTS items (
    id    serial PRIMARY KEY,
    name  text NOT NULL UNIQUE,
    price numeric(8, 2) NOT NULL
);
INSERT INTO items (name, price) VALUES
    ('widget', 2.50), ('gadget', 7.25), ('gizmo', 12.00), ('doohickey', 0.99)
ON CONFLICT (name) DO NOTHING;
SQL
echo "postgres-start: ready (PostgreSQL $VER, db $PGDB)"

# Exit with postgres: a crash of the server is a crash of the container.
set +e
wait "$PG_PID"
rc=$?
# wait returns early when a trapped signal arrives: wait for the real end.
while kill -0 "$PG_PID" 2>/dev/null; do wait "$PG_PID"; rc=$?; done
exit "$rc"
