#!/usr/bin/env bash
# Makes a self-signed TLS certificate for the proxy in front of mcx-kms: DIR/kms.crt and
# DIR/kms.key (0600), P-256, for NAME (default kms.example.org) and 127.0.0.1. For tests and
# trials only: in production the certificate comes from the operator's CA.
#   usage: make-self-signed-cert.sh DIR [NAME] [DAYS]
set -euo pipefail
dir="${1:?usage: make-self-signed-cert.sh DIR [NAME] [DAYS]}"
name="${2:-kms.example.org}"
days="${3:-30}"
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/CN=$name" -addext "subjectAltName=DNS:$name,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -keyout "$dir/kms.key" -out "$dir/kms.crt" 2>/dev/null
chmod 600 "$dir/kms.key"
chmod 644 "$dir/kms.crt"
echo "make-self-signed-cert: wrote $dir/kms.crt and $dir/kms.key for $name ($days days)"
