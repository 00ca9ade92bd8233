#!/usr/bin/env bash
# Regenerates the parity fixtures: runs the official CDK (@medplum/cdk 4.0.2, the version that
# produced tests/fixtures/reference) on each tests/fixtures/cdk-4.0.2/<case>/ config with its
# cdk.context.json, offline, and stores the templates it writes next to the config.
#
# Needs node and npm (the registry). Nothing here is needed to build or test medplum-init.
#   scripts/cdk-fixtures.sh            regenerate every case
#   scripts/cdk-fixtures.sh eu byo     regenerate some
#   CDK_TIME=1 scripts/cdk-fixtures.sh times `cdk synth` of the reference config (benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache="${XDG_CACHE_HOME:-$HOME/.cache}/medplum-init/cdk-4.0.2"
if [[ ! -x $cache/node_modules/.bin/cdk ]]; then
  echo "installing @medplum/cdk 4.0.2 into $cache" >&2
  mkdir -p "$cache"
  (cd "$cache" && echo '{"name":"cdk-fixtures","private":true}' >package.json &&
    npm install --no-audit --no-fund --silent @medplum/cdk@4.0.2 @medplum/core@4.0.2 @aws-sdk/client-ssm@3.734.0)
fi
export CDK_DISABLE_VERSION_CHECK=1

synth_case() { # <dir with config and context> <output dir>
  local src=$1 out=$2 work config
  work=$(mktemp -d)
  config=$(basename "$(ls "$src"/medplum.*.config.json)")
  cp "$src/$config" "$src"/cdk.context.json "$work"/
  echo "{\"app\":\"node $cache/node_modules/@medplum/cdk/dist/cjs/index.cjs\"}" >"$work/cdk.json"
  (cd "$work" && "$cache/node_modules/.bin/cdk" synth --no-notices -q \
    -c "config=$config" -o cdk.out >/dev/null)
  cp "$work"/cdk.out/*.template.json "$out"/
  rm -rf "$work"
}

if [[ -n ${CDK_TIME:-} ]]; then
  runs=${RUNS:-5}
  for i in $(seq "$runs"); do
    start=$(date +%s%N)
    synth_case tests/fixtures/reference "$(mktemp -d)"
    echo "cdk synth run $i: $(( ($(date +%s%N) - start) / 1000000 )) ms"
  done
  exit 0
fi

cases=("$@")
[[ ${#cases[@]} -eq 0 ]] && cases=($(ls tests/fixtures/cdk-4.0.2))
for c in "${cases[@]}"; do
  dir=$repo/tests/fixtures/cdk-4.0.2/$c
  rm -f "$dir"/*.template.json
  synth_case "$dir" "$dir"
  echo "$c: $(cd "$dir" && ls ./*.template.json | tr '\n' ' ')"
done
