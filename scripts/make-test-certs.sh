#!/usr/bin/env bash
# Regenerates the test-only certificate authorities and the simulator's server certificate in
# tests/data/tls (checked in so tests need no openssl binary). Valid for 100 years from the day
# they are made. These keys protect nothing: never trust this CA outside the tests.
set -euo pipefail
cd "$(dirname "$0")/../tests/data/tls"
days=36500
make_ca() { # name, subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
    -days "$days" -subj "$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
make_ca test-ca "/CN=PlexSync Test CA"
make_ca other-ca "/CN=Some Other CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj "/CN=plexsim.test" 2>/dev/null
openssl x509 -req -in server.csr -CA test-ca.pem -CAkey test-ca.key -CAcreateserial -out server.pem -days "$days" \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:plexsim.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n') 2>/dev/null
# What a Plex Media Server serves: a wildcard for its own <hash>.plex.direct name and nothing else.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout plexdirect.key -out plexdirect.csr \
  -subj "/CN=*.0123456789abcdef0123456789abcdef.plex.direct" 2>/dev/null
openssl x509 -req -in plexdirect.csr -CA test-ca.pem -CAkey test-ca.key -CAcreateserial -out plexdirect.pem \
  -days "$days" -extfile <(printf 'subjectAltName=DNS:*.0123456789abcdef0123456789abcdef.plex.direct\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n') 2>/dev/null
rm -f server.csr plexdirect.csr test-ca.srl test-ca.key other-ca.key
echo "test certificates written to $PWD"
