#!/bin/sh
# mkcerts.sh DIR - a throwaway certificate authority and the certificates the
# TLS tests use, made with the openssl command:
#   ca.crt                      the authority (clients get it with --cafile)
#   server.crt/key              localhost and 127.0.0.1, ECDSA P-256
#   server2.crt/key             the same names, another serial (reloads)
#   expired.crt/key             the same names, expired in 2020
#   other.crt/key               valid, but for other.example only
#   encrypted.key               server.key under a passphrase
#   rsa.crt/key                 localhost, RSA 2048 (second key type)
#   other-ca.crt                an authority that signed none of these
# Keys are mode 0600, as glomaild requires.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=glomail test CA" \
	-addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt 2>/dev/null
key other-ca.key
openssl req -x509 -new -key other-ca.key -days 3650 -subj "/CN=other CA" \
	-addext basicConstraints=critical,CA:TRUE -out other-ca.crt 2>/dev/null

# A minimal "openssl ca" set-up, which alone can back-date a certificate.
mkdir -p ca.db
: >ca.db/index.txt
echo 1000 >ca.db/serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = ca.db
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[anything]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
CNF

# leaf NAME SAN [openssl ca date options...]
leaf() {
	name=$1 san=$2
	shift 2
	[ -e "$name.key" ] || key "$name.key"
	cn=${san#*:}
	cn=${cn%%,*}
	openssl req -new -key "$name.key" -subj "/CN=$cn" \
		-addext "subjectAltName=$san" -out "$name.csr" 2>/dev/null
	openssl ca -batch -config ca.cnf -extensions leaf -notext \
		-in "$name.csr" -out "$name.crt" "$@" 2>/dev/null
}
leaf server "DNS:localhost,IP:127.0.0.1,IP:::1" -days 365
leaf server2 "DNS:localhost,IP:127.0.0.1,IP:::1" -days 365
leaf expired "DNS:localhost,IP:127.0.0.1,IP:::1" \
	-startdate 20200101000000Z -enddate 20200201000000Z
leaf other "DNS:other.example" -days 365
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
leaf rsa "DNS:localhost,IP:127.0.0.1" -days 365
openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key
chmod 600 ./*.key
chmod 644 ./*.crt
