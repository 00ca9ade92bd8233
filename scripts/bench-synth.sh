#!/usr/bin/env bash
# Synth time for the reference config (tests/fixtures/reference):
#   1. the library call, min/median over 500 runs (benches/synth.rs),
#   2. the `medplum-init synth --offline` command end to end, min/median over RUNS runs,
#   3. with CDK=1, the official `cdk synth` of the same config and context (needs node and npm;
#      installs @medplum/cdk 4.0.2 into a cache folder on first use).
# The bench runs in the dev profile with the crate at opt-level 3 (dependencies are already
# optimised there), which avoids a from-scratch release build of the AWS SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
export CARGO_PROFILE_DEV_OPT_LEVEL=3
cargo bench -q --bench synth --profile dev
cargo build -q --profile dev
bin=${CARGO_TARGET_DIR:-target}/debug/medplum-init
work=$(mktemp -d)
cp tests/fixtures/reference/medplum.staging.config.json tests/fixtures/reference/cdk.context.json "$work"/
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "$bin" --dir "$work" synth --offline >/dev/null
  times+=($(( ($(date +%s%N) - start) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "medplum-init synth --offline ($runs runs): min ${sorted[0]} us, median ${sorted[$((runs / 2))]} us"
rm -rf "$work"
if [[ -n ${CDK:-} ]]; then
  CDK_TIME=1 RUNS=${CDK_RUNS:-5} scripts/cdk-fixtures.sh 2>/dev/null
fi
