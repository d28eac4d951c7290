#!/usr/bin/env bash
# Issue 24 measurements: NSEC3 against NSEC (full sign and two-hour cycle), ZONEMD's
# share of the cycle, and `zonesign verify` of the NSEC3 zone against kzonecheck.
#
#   benches/nsec3.sh [DELEGATIONS]      (default 1000000)
#
# One SoftHSM2 setup (ECDSAP256SHA256) and three configs over the same keys: NSEC with
# the default ZONEMD (SHA-384), NSEC3 (RFC 9276 defaults: no salt, 0 iterations) with
# the same ZONEMD, and NSEC without ZONEMD. Each figure is the median of RUNS runs
# (default 3) under GNU time, wall and CPU seconds and peak RSS:
#   full     a full sign of the generated zone at T0 (no previous output);
#   cycle    the two-hour cycle at T0+3d on the zone with 0.1% churn (benches/churn.py),
#            from the output of a full sign at T0 and a warm-up cycle at T0+3d-2h (the
#            first renewal wave, as benches/cycle.sh); every run starts from that state;
#   verify   `zonesign verify` and `kzonecheck -d on` of the NSEC3 output at T0+3d.
# Targets (issue 24): NSEC3 full and cycle within 10% of NSEC's; the cycle with ZONEMD
# at most 5% slower than without; verify at most half of kzonecheck's wall time.
# KEEP=1 keeps the work directory; WORK=DIR reuses one (zones and outputs made once).
# Needs: Debian packages softhsm2, knot-dnssecutils and time; a release build is made.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
runs=${RUNS:-3}
command -v kzonecheck >/dev/null && [ -x /usr/bin/time ] || scripts/install-deps >/dev/null
cargo build --release --quiet --bin zonesign --example gen-zone
zs=$PWD/target/release/zonesign
work=${WORK:-$(mktemp -d /tmp/zonesign-nsec3.XXXXXX)}
mkdir -p "$work"
[ -n "${WORK:-}${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/{print $2}') GiB; zonesign $(git rev-parse --short HEAD)"

[ -s "$work/zone" ] || target/release/examples/gen-zone --delegations "$n" --seed 1 --out "$work/zone"
[ -s "$work/zone.changed" ] || benches/churn.py "$work/zone" "$n"
t0=1796644468 # a fixed T0 (2026-12-07), so that a kept work directory can be reused
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# One token and key state; a config per profile, differing only in [policy].
if [ ! -s "$work/zs/zonesign.toml" ]; then
    "$zs" init --dir "$work/zs" --algorithm ecdsap256sha256 -q
fi
profile() { # NAME POLICY-LINES (init's [policy] table, last, is replaced)
    { sed '/^\[policy\]/,$d' "$work/zs/zonesign.toml"
      printf '\n[policy]\nalgorithm = "ecdsap256sha256"\n%b\n' "$2"; } >"$work/zs/$1.toml"
}
profile nsec 'denial = "nsec"'
profile nsec3 'denial = "nsec3"'
profile nsec-nozm 'denial = "nsec"\nzonemd = "none"'
"$zs" --config "$work/zs/nsec.toml" -q key ds --origin se. >"$work/ds.txt"

sign() { # PROFILE ZONE OUT-DIR TIME [--previous FILE]: the command, in array `cmd`
    local p=$1 z=$2 d=$3 when=$4
    shift 4
    cmd=("$zs" --config "$work/zs/$p.toml" -q sign "$z" --origin se. --out "$d/se.signed"
        --now "$(at "$when")" --report "$d/report.json" "$@")
}

# The state every cycle run starts from: a full sign at T0, a warm-up cycle at T0+3d-2h.
for p in nsec nsec3; do
    b="$work/base-$p"
    if [ ! -s "$b/se.signed" ]; then
        mkdir -p "$b"
        sign $p "$work/zone" "$b" $t0 && "${cmd[@]}"
        sign $p "$work/zone" "$b" $((t0 + 3 * 86400 - 7200)) && "${cmd[@]}"
    fi
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
row() { printf '%-10s %-10s %9s %9s %9s\n' "$@"; }
measure() { # RUN PROFILE SETUP-COMMAND -- COMMAND...
    local run=$1 p=$2 setup=$3
    shift 4
    local t="$work/time.$run.$p"
    : >"$t"
    for _ in $(seq "$runs"); do
        eval "$setup"
        /usr/bin/time -f '%e %U %S %M' -a -o "$t" "$@" >/dev/null 2>"$work/stderr.$run.$p" ||
            { echo "$run $p failed:"; cat "$work/stderr.$run.$p"; exit 1; }
    done
    row "$run" "$p" "$(awk '{ print $1 }' "$t" | median)" \
        "$(awk '{ print $2 + $3 }' "$t" | median)" "$(awk '{ print int($4 / 1024) }' "$t" | median)"
    eval "wall_${run}_${p//-/_}=$(awk '{ print $1 }' "$t" | median)"
}
ratio() { echo "scale=3; $1 / $2" | bc; }

row run profile wall_s cpu_s rss_MiB
for p in nsec nsec3; do
    f="$work/full-$p"
    mkdir -p "$f"
    sign $p "$work/zone" "$f" $t0
    measure full $p "rm -f '$f'/se.signed*" -- "${cmd[@]}"
done
for p in nsec nsec3 nsec-nozm; do
    b="$work/base-${p%-nozm}" c="$work/cycle-$p"
    mkdir -p "$c"
    sign $p "$work/zone.changed" "$c" $((t0 + 3 * 86400)) --previous "$b/se.signed"
    measure cycle $p "rm -f '$c'/se.signed*; cp '$b'/se.signed.approved* '$c'/" -- "${cmd[@]}"
done
v="$work/base-nsec3/se.signed"
measure verify zonesign true -- "$zs" verify "$v" --origin se. --anchor "$work/ds.txt" \
    --now "$(at $((t0 + 3 * 86400)))"
measure verify kzonecheck true -- kzonecheck -o se. -d on -t $((t0 + 3 * 86400)) "$v"

echo "NSEC3/NSEC full wall:  $(ratio "$wall_full_nsec3" "$wall_full_nsec") (target <= 1.10)"
echo "NSEC3/NSEC cycle wall: $(ratio "$wall_cycle_nsec3" "$wall_cycle_nsec") (target <= 1.10)"
echo "cycle with/without ZONEMD: $(ratio "$wall_cycle_nsec" "$wall_cycle_nsec_nozm") (target <= 1.05)"
echo "verify/kzonecheck wall: $(ratio "$wall_verify_zonesign" "$wall_verify_kzonecheck") (target <= 0.50)"
