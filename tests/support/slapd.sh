# shellcheck shell=bash
# A real OpenLDAP server (slapd) for tests of directory accounts (issue 14 item 6). Shell tests
# source it; the C++ harness (tests/support/slapd.h) runs the same functions, so there is one
# recipe. Functions:
#
#   slapd_test_start   a new /tmp/vouch-slapd-XXXXXX with a test CA and a server certificate
#                      for 127.0.0.1 / localhost, a slapd.conf (mdb database, suffix
#                      dc=example,dc=test), the directory below loaded with slapadd, and slapd
#                      listening on two free loopback ports: ldap:// (StartTLS offered) and
#                      ldaps://. Sets SLAPD_DIR, SLAPD_PORT, SLAPD_TLS_PORT, SLAPD_URL,
#                      SLAPD_LDAPS_URL, SLAPD_CA (the CA certificate, PEM), SLAPD_BASE,
#                      SLAPD_ADMIN_DN + SLAPD_ADMIN_PASSWORD_FILE (the rootdn, for changes),
#                      SLAPD_READER_DN + SLAPD_READER_PASSWORD_FILE (the service account that
#                      searches), SLAPD_PID. Returns 1 with a message (never skips) when slapd
#                      is missing or does not start.
#   slapd_test_env     prints those variables as KEY=VALUE lines (for the C++ harness)
#   slapd_test_modify  applies LDIF from stdin as the rootdn (ldapmodify over StartTLS)
#   slapd_test_binds   prints how many simple binds slapd has logged (its "BIND dn=" lines)
#   slapd_test_down    stops slapd (SIGTERM to its own pid; the directory stays)
#   slapd_test_up      starts it again on the same ports and data
#   slapd_test_stop    slapd_test_down and removes SLAPD_DIR; safe to call twice. Call it from
#                      your EXIT trap. Kills only the slapd this file started (its pid file).
#
# The directory (passwords are "<uid>-password"):
#   ou=people:  uid=alice, uid=bob, uid=carol (inetOrgPerson); uid=dave also carries the
#               AD-style attribute sAMAccountName=dave.ad (a tiny test schema, not all of AD's)
#   ou=groups:  cn=ops (groupOfNames, member: alice, bob), cn=devs (groupOfUniqueNames,
#               uniqueMember: carol), cn=posix (posixGroup, memberUid: alice, dave)
#   cn=reader:  the service account (may read people and groups); anonymous may only bind.

SLAPD_DIR= SLAPD_PORT= SLAPD_TLS_PORT= SLAPD_URL= SLAPD_LDAPS_URL= SLAPD_CA= SLAPD_PID=
SLAPD_BASE=dc=example,dc=test
SLAPD_ADMIN_DN=cn=admin,dc=example,dc=test SLAPD_ADMIN_PASSWORD_FILE=
SLAPD_READER_DN=cn=reader,dc=example,dc=test SLAPD_READER_PASSWORD_FILE=

_slapd_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_slapd_certs() {
  local d=$SLAPD_DIR/tls
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=vouch test LDAP CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    >/dev/null 2>&1 || return 1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext" -out "$d/server.pem" >/dev/null 2>&1 || return 1
  SLAPD_CA=$d/ca.pem
}

_slapd_conf() {
  local admin_hash
  admin_hash=$(slappasswd -s "$(cat "$SLAPD_ADMIN_PASSWORD_FILE")") || return 1
  cat >"$SLAPD_DIR/ad.schema" <<'EOF'
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'vouchTestAdUser' SUP top AUXILIARY
  MAY sAMAccountName )
EOF
  cat >"$SLAPD_DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $SLAPD_DIR/ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $SLAPD_DIR/slapd.pid
TLSCACertificateFile $SLAPD_DIR/tls/ca.pem
TLSCertificateFile $SLAPD_DIR/tls/server.pem
TLSCertificateKeyFile $SLAPD_DIR/tls/server.key
loglevel stats
database mdb
maxsize 67108864
suffix "$SLAPD_BASE"
rootdn "$SLAPD_ADMIN_DN"
rootpw $admin_hash
directory $SLAPD_DIR/data
access to attrs=userPassword by anonymous auth by self read by * none
access to * by dn.exact="$SLAPD_READER_DN" read by self read by * none
EOF
}

_slapd_ldif() {
  local u
  cat <<EOF
dn: $SLAPD_BASE
objectClass: dcObject
objectClass: organization
dc: example
o: vouch test

dn: ou=people,$SLAPD_BASE
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SLAPD_BASE
objectClass: organizationalUnit
ou: groups

dn: $SLAPD_READER_DN
objectClass: person
cn: reader
sn: reader
userPassword: $(slappasswd -s "$(cat "$SLAPD_READER_PASSWORD_FILE")")

EOF
  for u in alice bob carol; do
    cat <<EOF
dn: uid=$u,ou=people,$SLAPD_BASE
objectClass: inetOrgPerson
uid: $u
cn: $u
sn: $u
userPassword: $(slappasswd -s "$u-password")

EOF
  done
  cat <<EOF
dn: uid=dave,ou=people,$SLAPD_BASE
objectClass: inetOrgPerson
objectClass: vouchTestAdUser
uid: dave
cn: dave
sn: dave
sAMAccountName: dave.ad
userPassword: $(slappasswd -s "dave-password")

dn: cn=ops,ou=groups,$SLAPD_BASE
objectClass: groupOfNames
cn: ops
member: uid=alice,ou=people,$SLAPD_BASE
member: uid=bob,ou=people,$SLAPD_BASE

dn: cn=devs,ou=groups,$SLAPD_BASE
objectClass: groupOfUniqueNames
cn: devs
uniqueMember: uid=carol,ou=people,$SLAPD_BASE

dn: cn=posix,ou=groups,$SLAPD_BASE
objectClass: posixGroup
cn: posix
gidNumber: 5000
memberUid: alice
memberUid: dave
EOF
}

slapd_test_up() {
  local attempt
  for attempt in 1 2 3 4 5; do
    [ -n "$SLAPD_PORT" ] && [ "$attempt" = 1 ] || {
      SLAPD_PORT=$(_slapd_free_port)
      SLAPD_TLS_PORT=$(_slapd_free_port)
    }
    SLAPD_URL=ldap://127.0.0.1:$SLAPD_PORT
    SLAPD_LDAPS_URL=ldaps://127.0.0.1:$SLAPD_TLS_PORT
    # -d: stay in the foreground and log to stderr (the file slapd_test_binds reads).
    /usr/sbin/slapd -f "$SLAPD_DIR/slapd.conf" -h "$SLAPD_URL/ $SLAPD_LDAPS_URL/" -d stats \
      </dev/null >>"$SLAPD_DIR/slapd.log" 2>&1 &
    SLAPD_PID=$!
    echo "$SLAPD_PID" >"$SLAPD_DIR/own.pid"
    local i
    for i in $(seq 1 100); do
      if LDAPTLS_CACERT=$SLAPD_CA ldapwhoami -x -H "$SLAPD_LDAPS_URL" -o nettimeout=2 \
          >/dev/null 2>&1; then
        return 0
      fi
      kill -0 "$SLAPD_PID" 2>/dev/null || break
      sleep 0.1
    done
    slapd_test_down
    echo "slapd did not start (attempt $attempt): $(tail -3 "$SLAPD_DIR/slapd.log")" >&2
  done
  return 1
}

slapd_test_start() {
  if [ ! -x /usr/sbin/slapd ] || ! command -v ldapadd >/dev/null || ! command -v slapadd >/dev/null; then
    echo "slapd or the LDAP tools are missing: install the Debian packages slapd and ldap-utils" \
      "(scripts/install-deps.sh)" >&2
    return 1
  fi
  SLAPD_DIR=$(mktemp -d /tmp/vouch-slapd-XXXXXX)
  SLAPD_PORT=
  SLAPD_ADMIN_PASSWORD_FILE=$SLAPD_DIR/admin-password
  SLAPD_READER_PASSWORD_FILE=$SLAPD_DIR/reader-password
  # No newline: ldap tools' -y, and vouch-server's bind_password_file, take the whole file.
  printf %s "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$SLAPD_ADMIN_PASSWORD_FILE"
  printf %s "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$SLAPD_READER_PASSWORD_FILE"
  chmod 600 "$SLAPD_ADMIN_PASSWORD_FILE" "$SLAPD_READER_PASSWORD_FILE"
  mkdir -p "$SLAPD_DIR/data"
  _slapd_certs || { echo "slapd harness: openssl could not make the test certificates" >&2; return 1; }
  _slapd_conf || return 1
  if ! _slapd_ldif | slapadd -f "$SLAPD_DIR/slapd.conf" -q >"$SLAPD_DIR/slapadd.log" 2>&1; then
    echo "slapadd failed: $(tail -5 "$SLAPD_DIR/slapadd.log")" >&2
    return 1
  fi
  slapd_test_up
}

slapd_test_env() {
  local v
  for v in SLAPD_DIR SLAPD_PORT SLAPD_TLS_PORT SLAPD_URL SLAPD_LDAPS_URL SLAPD_CA SLAPD_BASE \
      SLAPD_ADMIN_DN SLAPD_ADMIN_PASSWORD_FILE SLAPD_READER_DN SLAPD_READER_PASSWORD_FILE \
      SLAPD_PID; do
    echo "$v=${!v}"
  done
}

slapd_test_modify() {
  LDAPTLS_CACERT=$SLAPD_CA ldapmodify -x -Z -H "$SLAPD_URL" -D "$SLAPD_ADMIN_DN" \
    -y "$SLAPD_ADMIN_PASSWORD_FILE" -o nettimeout=10 >/dev/null
}

slapd_test_binds() {
  grep -c 'BIND dn=' "$SLAPD_DIR/slapd.log" || true
}

slapd_test_down() {
  [ -n "$SLAPD_DIR" ] && [ -f "$SLAPD_DIR/own.pid" ] || return 0
  local pid i
  pid=$(cat "$SLAPD_DIR/own.pid")
  rm -f "$SLAPD_DIR/own.pid"
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

slapd_test_stop() {
  [ -n "$SLAPD_DIR" ] || return 0
  slapd_test_down
  rm -rf "$SLAPD_DIR"
  SLAPD_DIR=
}
