#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the `postgres` tests and prints
# its URL: installs the system's package if it is missing, makes a data
# directory of its own (owned by the `postgres` user, trust auth, listening
# on 127.0.0.1 only) and a database. Stop it with `.ci/postgres.sh stop DIR`;
# `.ci/postgres.sh restart DIR` stops it at once (a crash: no checkpoint,
# sessions cut) and starts it again on the same port, as the fault tests do.
# `.ci/postgres.sh tls` starts one that accepts TLS connections only, with a
# certificate for 127.0.0.1 signed by a CA generated for it (DIR/ca.pem).
set -euo pipefail
tls=""
if [ "${1:-}" = tls ]; then
    tls=1
fi
if [ "${1:-}" = restart ]; then
    dir=$2
    bin=$(cat "$dir/bin")
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir/data -l $dir/log -m immediate -w -t 60 restart" >/dev/null
    exit 0
fi
if [ "${1:-}" = stop ]; then
    dir=$2
    bin=$(cat "$dir/bin")
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit 0
fi
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    echo "installing PostgreSQL from the system's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/contact-sync-pg.XXXXXX)
echo "$bin" >"$dir/bin"
chown postgres "$dir"
su postgres -s /bin/sh -c "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
extra=""
if [ -n "$tls" ]; then
    (
        cd "$dir"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=contact-sync test CA" \
            -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
            -out server.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext.cnf -out server.pem 2>/dev/null
        chown postgres server.key server.pem
        chmod 600 server.key
    )
    # TLS connections only (and the local socket for pg_ctl).
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' >"$dir/data/pg_hba.conf"
    extra="-c ssl=on -c ssl_cert_file=$dir/server.pem -c ssl_key_file=$dir/server.key"
fi
# The first free port from 54329 on (another server may hold one).
for port in $(seq 54329 54399); do
    if su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir/data -l $dir/log -w -t 30 start -o '-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off $extra'" >/dev/null 2>&1; then
        su postgres -s /bin/sh -c "$bin/createdb -h $dir -p $port -U postgres contact_sync"
        echo "$dir postgres://postgres@127.0.0.1:$port/contact_sync"
        exit 0
    fi
done
echo "no PostgreSQL server could be started; its log:" >&2
cat "$dir/log" >&2
exit 1
