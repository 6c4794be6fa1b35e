#!/usr/bin/env bash
# Dependency audit of what the service ships: `npm audit --omit=dev` (production dependencies,
# the ones `npm ci --omit=dev` puts in the images) against the npm registry's advisory database.
# Fails on any high or critical advisory unless it is listed, with its reason, in the exceptions
# file. It needs the registry, so it is not part of `npm test`; docs/SECURITY.md says when to run it.
#
#   scripts/audit.sh                 # human summary; exit 0 clean, 1 high/critical, 2 could not audit
#   scripts/audit.sh --json          # the summary as one JSON object on stdout
#
# Exceptions: AUDIT_EXCEPTIONS (default scripts/audit-exceptions.txt, optional), one advisory a
# line: its GHSA id, then why it does not apply or when it will be fixed, e.g.
#   GHSA-xxxx-xxxx-xxxx  only reachable through the CLI's --foo, which the service never passes
# Lines starting with # are comments. An exception no longer reported is printed as stale.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exceptions=${AUDIT_EXCEPTIONS:-$root/scripts/audit-exceptions.txt}
format=text
case "${1:-}" in
  '') ;;
  --json) format=json ;;
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "audit: unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac
command -v npm >/dev/null || { echo "audit: npm not found" >&2; exit 2; }
command -v node >/dev/null || { echo "audit: node not found" >&2; exit 2; }

report=$(mktemp)
trap 'rm -f "$report"' EXIT
# npm exits 1 both when it finds advisories and when it cannot ask; the report tells which.
(cd "$root" && npm audit --omit=dev --json) >"$report" 2>/dev/null || true

# The verdict, from the report (auditReportVersion 2) and the exceptions.
node --input-type=module - "$report" "$exceptions" "$format" <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
const [reportFile, exceptionsFile, format] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`audit: ${msg}`);
  process.exit(2);
};
let report;
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8'));
} catch {
  fail('npm audit gave no JSON report (is the registry reachable?)');
}
if (report.error || report.statusCode || !report.vulnerabilities || !report.metadata?.vulnerabilities) {
  const why = report.error?.summary || report.error?.code || report.message || 'no vulnerabilities section';
  fail(`npm audit could not run: ${why}`);
}
const reasons = new Map();
if (existsSync(exceptionsFile)) {
  for (const line of readFileSync(exceptionsFile, 'utf8').split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})\s+(\S.*)$/i.exec(t);
    if (!m) fail(`${exceptionsFile}: "${t}" is not "GHSA-id reason"`);
    reasons.set(m[1].toUpperCase(), m[2]);
  }
}
// One row per advisory and package; a vulnerability that is only "via" another package is
// reported under the package whose advisory it is.
const rows = [];
for (const v of Object.values(report.vulnerabilities)) {
  for (const via of v.via) {
    if (typeof via !== 'object') continue;
    const id = (/GHSA(?:-[a-z0-9]{4}){3}/i.exec(via.url ?? '')?.[0] ?? String(via.source)).toUpperCase();
    rows.push({ id, package: via.name, range: via.range, severity: via.severity, title: via.title, url: via.url, fixAvailable: Boolean(v.fixAvailable), excepted: reasons.get(id) ?? null });
  }
}
const unique = [...new Map(rows.map((r) => [`${r.id} ${r.package}`, r])).values()];
const blocking = unique.filter((r) => (r.severity === 'high' || r.severity === 'critical') && !r.excepted);
const reported = new Set(unique.map((r) => r.id));
const stale = [...reasons.keys()].filter((id) => !reported.has(id));
const counts = report.metadata.vulnerabilities;
const summary = { ok: blocking.length === 0, counts, dependencies: report.metadata.dependencies?.prod ?? null, advisories: unique, blocking: blocking.map((r) => r.id), staleExceptions: stale };
if (format === 'json') console.log(JSON.stringify(summary, null, 2));
else {
  console.log(`audit: ${summary.dependencies ?? '?'} production dependencies; advisories: critical ${counts.critical}, high ${counts.high}, moderate ${counts.moderate}, low ${counts.low}, info ${counts.info}`);
  for (const r of unique) console.log(`  ${r.severity.padEnd(8)} ${r.package}@${r.range}  ${r.id}  ${r.title}${r.fixAvailable ? ' (fix available)' : ''}${r.excepted ? `  [exception: ${r.excepted}]` : ''}`);
  for (const id of stale) console.log(`  stale exception: ${id} is no longer reported; remove it from ${exceptionsFile}`);
  console.log(blocking.length ? `audit: FAILED: ${blocking.length} high/critical advisories without an exception` : 'audit: ok (no high or critical advisory without an exception)');
}
process.exit(blocking.length ? 1 : 0);
EOF
