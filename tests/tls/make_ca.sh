#!/usr/bin/env bash
# make_ca.sh DIR - a throw-away certificate authority for the TLS tests,
# made with the openssl CLI: what a Flink deployment with mTLS has, in PEM.
#   ca.pem                  the CA the function server trusts for clients and
#                           Flink / sf-local trust for the server (trust_cacerts)
#   server.pem server.key   the function server (--tls-cert/--tls-key), for
#                           localhost and 127.0.0.1
#   client.pem client.key   the caller (client_cert/client_key); the key is
#                           PKCS#8 PEM, the form Flink's Netty client reads
#   client-enc.key          the same key encrypted (client_key_password),
#   client-key-password     with its password file
#   other-ca.pem, rogue.pem rogue.key   a client certificate from another CA
# EC P-256 keys: quick to make, and the JDK and GnuTLS both take them.
set -euo pipefail
dir=${1:?usage: make_ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=2
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # ca NAME CN
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days $days -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem" 2>/dev/null
}
leaf() { # leaf NAME CA CN EXT...
  local name=$1 issuer=$2 cn=$3
  shift 3
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
  printf '%s\n' "$@" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
    -CAcreateserial -days $days -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
ca ca "statefun-c test CA"
ca other-ca "another CA"
leaf server ca localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  "extendedKeyUsage=serverAuth"
leaf client ca "flink" "extendedKeyUsage=clientAuth"
leaf rogue other-ca "flink" "extendedKeyUsage=clientAuth"
printf 'secret-pw' > client-key-password
openssl pkcs8 -topk8 -in client.key -v2 aes-256-cbc -passout file:client-key-password \
  -out client-enc.key 2>/dev/null
chmod 600 ./*.key
