#!/usr/bin/env bash
# Issue 4 benchmark: full sign vs the two-hour cron cycle on a generated .se-style zone.
#
#   benches/cycle.sh [DELEGATIONS]      (default 1000000)
#
# For each profile (RSASHA1 ZSK 1024 / KSK 2048, and ECDSAP256SHA256): makes a fresh
# SoftHSM2 setup and signs the zone in full at T0. Production runs are in a steady state
# where the 12-14 day jitter has spread renewals over about 24 runs, so the script first
# runs one unmeasured warm-up cycle at T0+3d-2h (the first renewal wave), then measures
# the cycle at T0+3d on the zone with 0.1% of the delegations changed (removed, added,
# NS changed): it renews what fell due in those two hours plus what changed. Prints
# wall time, CPU time, peak RSS and signatures made/reused for the full sign and the
# measured cycle, and the cycle/full ratio (target: at most 10%).
# PROFILES="ecdsap256sha256" limits the run to the named profiles; KEEP=1 keeps the work
# directory (zones, signed outputs, token) for re-running or profiling a cycle.
# Needs: Debian packages softhsm2 and time; a release build is made here.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
scripts/install-deps >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y time >/dev/null; }
cargo build --release --quiet --bin zonesign --example gen-zone
zs=$PWD/target/release/zonesign
work=$(mktemp -d /tmp/zonesign-cycle.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/{print $2}') GiB"
target/release/examples/gen-zone --delegations "$n" --seed 1 --out "$work/zone"
# 0.1% churn: drop n/2000 delegations, add n/2000 new ones, change the NS of n/2000.
benches/churn.py "$work/zone" "$n"
row() { printf '%-16s %-6s %9s %9s %10s %12s %12s\n' "$@"; }
row profile run wall_s cpu_s rss_MiB sigs_made sigs_reused
for alg in ${PROFILES:-rsasha1 ecdsap256sha256}; do
  d="$work/$alg"; mkdir -p "$d"
  "$zs" init --dir "$d/zs" --algorithm "$alg" -q
  t0=$(date -u +%s)
  for run in full warmup cycle; do
    zone="$work/zone"; when=$t0
    if [ "$run" = warmup ]; then when=$((t0 + 3 * 86400 - 7200)); fi
    if [ "$run" = cycle ]; then zone="$work/zone.changed"; when=$((t0 + 3 * 86400)); fi
    /usr/bin/time -f '%e %U %S %M' -o "$d/time.$run" \
      "$zs" --config "$d/zs/zonesign.toml" -q sign "$zone" --origin se. --out "$d/se.signed" \
      --now "$(date -u -d "@$when" +%Y-%m-%dT%H:%M:%SZ)" --report "$d/report.$run.json"
    read -r wall user sys rss < "$d/time.$run"
    made=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['signatures_made'])" "$d/report.$run.json")
    reused=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['signatures_reused'])" "$d/report.$run.json")
    row "$alg" "$run" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))" "$made" "$reused"
    eval "wall_$run=$wall"
  done
  echo "$alg: cycle/full wall = $(echo "scale=3; $wall_cycle / $wall_full" | bc) (target <= 0.10)"
done
