#!/usr/bin/env bash
# bench/tls/grade.sh: grades a hendrix `tls` listener with testssl.sh (Debian: testssl.sh).
# Starts `hendrix up` with a tls listener on 127.0.0.1 (the kind's defaults plus http2: true and
# hsts: true; a certificate made for the run with openssl: EC P-256, SAN localhost + 127.0.0.1),
# runs testssl's fast offline checks against it (protocols, cipher categories, forward secrecy,
# server preferences, server defaults, headers, vulnerabilities; no DNS, no OCSP/CRL fetches),
# keeps the full report (text + JSON) in a /tmp folder and prints a summary.
#
# Counted as vulnerabilities: every MEDIUM/HIGH/CRITICAL finding, except two kinds listed apart:
# the trust chain of the local test certificate (self-signed, no CRL/OCSP), and headers that
# only the app can set (security_headers: X-Frame-Options, CSP... — the fixture app sets none).
#
# Usage: npm run build && bench/tls/grade.sh [--set services.secure.KEY=VALUE]...
#   e.g. bench/tls/grade.sh --set services.secure.minVersion=TLSv1.3
# Exit: 0 nothing flagged, 1 vulnerabilities flagged, 2 the scan failed or is incomplete.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for command in node openssl testssl; do
  if ! command -v "$command" >/dev/null; then
    package=$command; [ "$command" = testssl ] && package=testssl.sh
    echo "$command is not installed: apt-get install -y $package" >&2
    exit 2
  fi
done
if [ ! -f "$root/dist/bundle/cli.js" ]; then
  echo "hendrix is not built: npm run build" >&2
  exit 2
fi

out="$(mktemp -d /tmp/hendrix-grade-tls.XXXXXX)"
hendrix_pid=""
testssl_pid=""
stop_all() {
  # testssl runs in its own process group (setsid): end it with the openssl clients it started
  if [ -n "$testssl_pid" ] && kill -0 "$testssl_pid" 2>/dev/null; then kill -TERM -- "-$testssl_pid" 2>/dev/null || true; fi
  testssl_pid=""
  stop_hendrix
}
stop_hendrix() {
  if [ -n "$hendrix_pid" ] && kill -0 "$hendrix_pid" 2>/dev/null; then
    kill -TERM "$hendrix_pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$hendrix_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$hendrix_pid" 2>/dev/null || true
    wait "$hendrix_pid" 2>/dev/null || true
  fi
  hendrix_pid=""
}
trap stop_all EXIT
trap 'echo; echo "interrupted; partial report in $out" >&2; exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 90 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null

cat >"$out/hendrix.yaml" <<EOF
version: 1
logging:
  format: json
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: $here/app.mjs
  secure:
    kind: tls
    listen: 127.0.0.1:0
    serves: web
    cert: ./cert.pem
    key: ./key.pem
    http2: true
    hsts: true
EOF

# versions for the report, read through files: see the note on $(...) below
testssl --version >"$out/versions.txt" 2>/dev/null || true
/usr/bin/openssl version >>"$out/versions.txt"
testssl_version="?" openssl_version="?"
while IFS= read -r entry; do
  if [[ $testssl_version == "?" && $entry =~ testssl[^0-9]*([0-9][0-9.]*) ]]; then testssl_version=${BASH_REMATCH[1]}; fi
  if [[ $entry =~ ^(OpenSSL [^ ]+) ]]; then openssl_version=${BASH_REMATCH[1]}; fi
done <"$out/versions.txt"

: >"$out/hendrix.log"
node "$root/bin/hendrix.js" up -f "$out/hendrix.yaml" "$@" >>"$out/hendrix.log" 2>&1 &
hendrix_pid=$!
# the tls listener's "listening" line has its address; no $(...) in this loop: a Ctrl-C while
# bash parses a command substitution breaks the trap (bash 5.2)
port=""
listening='"address":"https://127\.0\.0\.1:([0-9]+)"'
for ((i = 0; i < 200 && ${#port} == 0; i++)); do
  while IFS= read -r entry; do
    if [[ $entry == *'"msg":"listening"'* && $entry =~ $listening ]]; then port=${BASH_REMATCH[1]}; break; fi
  done <"$out/hendrix.log"
  [ -n "$port" ] && break
  kill -0 "$hendrix_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "hendrix did not start a tls listener; its log ($out/hendrix.log):" >&2
  cat "$out/hendrix.log" >&2
  exit 2
fi

echo "grading hendrix tls on 127.0.0.1:$port (testssl $testssl_version, $openssl_version)..."
started=$SECONDS
testssl_status=0
setsid testssl --quiet --color 0 --warnings batch --openssl /usr/bin/openssl --nodns none \
  --connect-timeout 5 --openssl-timeout 10 \
  --protocols --std --fs --server-preference --server-defaults --headers --vulnerable \
  --jsonfile "$out/testssl.json" "127.0.0.1:$port" >"$out/testssl.txt" 2>&1 &
testssl_pid=$!
# waiting in the background keeps Ctrl-C and SIGTERM responsive during the scan
wait "$testssl_pid" || testssl_status=$?
testssl_pid=""
elapsed=$((SECONDS - started))
stop_hendrix

set +e
node --input-type=module - "$out/testssl.json" "$testssl_status" "$elapsed" <<'EOF'
import { readFileSync } from 'node:fs';

const [file, status, elapsed] = process.argv.slice(2);
let findings;
try {
  findings = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.log(`no JSON report (${error.message}); testssl exited with ${status}`);
  process.exit(2);
}
const byId = new Map(findings.map((f) => [f.id, f]));
const get = (id) => byId.get(id)?.finding ?? '(not tested)';

// the trust chain of a certificate made for the test, not a property of the listener
const TRUST = /^(cert_chain_of_trust|cert_trust|cert_revocation|cert_crlDistributionPoints|cert_ocspURL|OCSP_stapling|cert_mustStapleExtension|cert_expirationStatus|cert_notAfter|certificate_transparency)\b/;
// response headers only the app sets (the tls listener adds Strict-Transport-Security, graded apart)
const APP = /^(security_headers|cookie_)/;
const SEVERE = new Set(['MEDIUM', 'HIGH', 'CRITICAL']);
const line = (f) => `  ${f.severity.padEnd(8)} ${f.id}: ${f.finding}`;

const protocols = [['SSLv2', 'SSLv2'], ['SSLv3', 'SSLv3'], ['TLS1', 'TLS 1.0'], ['TLS1_1', 'TLS 1.1'], ['TLS1_2', 'TLS 1.2'], ['TLS1_3', 'TLS 1.3']];
const offered = protocols.filter(([id]) => /^offered/.test(get(id))).map(([, name]) => name);
const unexpected = offered.filter((p) => p !== 'TLS 1.2' && p !== 'TLS 1.3');
console.log(`protocols offered: ${offered.join(', ') || 'none'}${unexpected.length ? `  <- unexpected: ${unexpected.join(', ')}` : '  (expected: TLS 1.2 + 1.3 only)'}`);
console.log(`ALPN: ${[byId.get('ALPN_HTTP2')?.finding, byId.get('ALPN')?.finding].filter(Boolean).join(', ') || '(not tested)'}`);
console.log(`forward secrecy: ${get('PFS')} (${byId.get('PFS')?.severity ?? '?'})`);
console.log(`  ciphers: ${get('PFS_ciphers')}`);
console.log(`  curves: ${get('PFS_ECDHE_curves')}`);
for (const id of ['cipherorder_TLSv1_2', 'cipherorder_TLSv1_3']) if (byId.has(id)) console.log(`  ${id.replace('cipherorder_', '')} order: ${get(id)}`);
const weak = ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE'].filter((id) => !/^not offered/.test(get(id)));
console.log(`weak cipher categories offered: ${weak.length ? weak.map((id) => `${id} (${get(id)})`).join(', ') : 'none (NULL, aNULL, EXPORT, LOW, 3DES/IDEA, CBC all not offered)'}`);
console.log(`HSTS: ${byId.get('HSTS_time')?.finding ?? get('HSTS')}`);

const severe = findings.filter((f) => SEVERE.has(f.severity));
const trust = severe.filter((f) => TRUST.test(f.id));
const app = severe.filter((f) => !TRUST.test(f.id) && APP.test(f.id));
const vulnerabilities = severe.filter((f) => !TRUST.test(f.id) && !APP.test(f.id));
const low = findings.filter((f) => f.severity === 'LOW');
const warnings = findings.filter((f) => f.severity === 'WARN' || f.severity === 'FATAL');
if (unexpected.length) vulnerabilities.push(...unexpected.map((p) => ({ severity: 'HIGH', id: 'protocol', finding: `${p} offered` })));

console.log(`vulnerabilities (MEDIUM/HIGH/CRITICAL): ${vulnerabilities.length || 'none'}`);
vulnerabilities.forEach((f) => console.log(line(f)));
console.log(`not counted — trust chain of the local test certificate: ${trust.length || 'none'}`);
trust.forEach((f) => console.log(line(f)));
console.log(`not counted — headers set by the app, not the listener: ${app.length || 'none'}`);
app.forEach((f) => console.log(line(f)));
if (low.length) {
  console.log(`low (not counted): ${low.length}`);
  low.forEach((f) => console.log(line(f)));
}
// the scan ran every check it was asked for, or the grade says so
const missing = ['SSLv2', 'TLS1_3', 'PFS', 'cipher_order', 'cert_keySize', 'HSTS', 'heartbleed', 'ROBOT', 'LUCKY13', 'RC4'].filter((id) => !byId.has(id) && !byId.has(`${id}_time`));
if (warnings.length) {
  console.log(`scan warnings: ${warnings.length}`);
  warnings.forEach((f) => console.log(line(f)));
}
if (missing.length) console.log(`checks missing from the report: ${missing.join(', ')}`);
console.log(`testssl: ${elapsed} s, exit status ${status}`);
if (missing.length || warnings.length) {
  console.log('grade: incomplete scan (see above)');
  process.exit(2);
}
const notCounted = `not counted: ${trust.length} trust-chain, ${app.length} app-header finding${trust.length + app.length === 1 ? '' : 's'}, listed above`;
if (vulnerabilities.length === 0) {
  console.log(`grade: no vulnerability flagged (${notCounted})`);
  process.exit(0);
}
console.log(`grade: ${vulnerabilities.length} flagged: ${vulnerabilities.map((f) => `${f.id} (${f.severity})`).join(', ')} (${notCounted})`);
process.exit(1);
EOF
result=$?
echo "report: $out/testssl.txt, $out/testssl.json (hendrix log: $out/hendrix.log)"
exit $result
