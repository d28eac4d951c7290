#!/usr/bin/env bash
# Issue 25: the memory curve. Peak RSS, wall and CPU time of the full sign, the two-hour
# cycle and `zonesign verify` (beside kzonecheck's verify) at each zone size, with NSEC
# and with NSEC3 opt-out.
#
#   benches/memory.sh [DELEGATIONS ...]      (default 1000000 2000000 5000000 10000000)
#
# Per size and denial: a generated zone (gen-zone, seed 1) and the same with 0.1% churn
# (benches/churn.py); keys ECDSAP256SHA256 in SoftHSM2. full = a sign at T0 without a
# previous output; cycle = the run at T0+3d on the churned zone from the output of a full
# sign and a warm-up cycle at T0+3d-2h (as benches/nsec3.sh); verify = `zonesign verify`
# and `kzonecheck -d on` of the full sign's output. One run per figure: peak RSS does not
# wander like time does; for time ratios use benches/nsec3.sh or compare.sh.
#
# A run whose expected peak (the previous size's, scaled) would not fit in the memory
# available is skipped and says so, rather than pushing the machine into its OOM killer.
# Targets (issue 25): peak <= 4 GiB and time <= 11x the 1M time at 10M; peak <= 1 GiB at
# 1M; verify at most half of kzonecheck's wall time and below its memory at every size.
# DENIALS="nsec" measures one denial only (default "nsec nsec3"); KZONECHECK=0 skips
# kzonecheck (ten minutes and 6.5 GB at 5M). KEEP=1 keeps the work directory; WORK=DIR reuses one (zones and outputs made once).
# Needs: Debian packages softhsm2, knot-dnssecutils and time; a release build is made.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 2000000 5000000 10000000)
command -v kzonecheck >/dev/null && [ -x /usr/bin/time ] || scripts/install-deps >/dev/null
# ZONESIGN=BIN and GEN_ZONE=BIN measure given builds (no build here): a long run is then
# not disturbed by building in this tree meanwhile.
if [ -z "${ZONESIGN:-}" ]; then
    cargo build --release --quiet --bin zonesign --example gen-zone
fi
zs=${ZONESIGN:-$PWD/target/release/zonesign}
gen=${GEN_ZONE:-$PWD/target/release/examples/gen-zone}
work=${WORK:-$(mktemp -d /tmp/zonesign-memory.XXXXXX)}
mkdir -p "$work"
[ -n "${WORK:-}${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/{print $2}') GiB; zonesign $(git rev-parse --short HEAD)"
t0=1796644468 # 2026-12-07, fixed so that a kept work directory can be reused
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

if [ ! -s "$work/zs/zonesign.toml" ]; then
    "$zs" init --dir "$work/zs" --algorithm ecdsap256sha256 -q
fi
denials=(${DENIALS:-nsec nsec3})
for p in nsec nsec3; do
    denial='denial = "nsec"'
    [ $p = nsec ] || denial='denial = "nsec3"\nnsec3-opt-out = true'
    { sed '/^\[policy\]/,$d' "$work/zs/zonesign.toml"
      printf '\n[policy]\nalgorithm = "ecdsap256sha256"\n%b\n' "$denial"; } >"$work/zs/$p.toml"
done
"$zs" --config "$work/zs/nsec.toml" -q key ds --origin se. >"$work/ds.txt"

available_mib() { awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo; }
declare -A last_peak last_n
printf '%-9s %-6s %-10s %9s %9s %9s\n' delegations denial run wall_s cpu_s peak_MiB
# One measured run: KEY LABEL COMMAND...; prints a row, remembers the peak per key.
measure() {
    local key=$1 label=$2 n=$3 p=$4
    shift 4
    local want=0
    [ -z "${last_peak[$key]:-}" ] ||
        want=$((last_peak[$key] * n / last_n[$key]))
    if [ "$want" -gt "$(available_mib)" ]; then
        printf '%-9s %-6s %-10s skipped: expected peak %s MiB > %s MiB available\n' \
            "$n" "$p" "$label" "$want" "$(available_mib)"
        return 0
    fi
    local t="$work/time.$key.$n"
    if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >/dev/null 2>"$work/stderr.$key.$n"; then
        printf '%-9s %-6s %-10s failed: %s\n' "$n" "$p" "$label" "$(tail -1 "$work/stderr.$key.$n")"
        return 0
    fi
    read -r wall user sys kib <"$t"
    printf '%-9s %-6s %-10s %9s %9s %9s\n' "$n" "$p" "$label" "$wall" \
        "$(echo "$user + $sys" | bc)" $((kib / 1024))
    last_peak[$key]=$((kib / 1024))
    last_n[$key]=$n
}

for n in "${sizes[@]}"; do
    z="$work/zone.$n"
    [ -s "$z" ] || "$gen" --delegations "$n" --seed 1 --out "$z"
    [ -s "$z.changed" ] || benches/churn.py "$z" "$n"
    for p in "${denials[@]}"; do
        d="$work/$p.$n"
        mkdir -p "$d/full" "$d/base" "$d/cycle"
        sign() { # DIR ZONE TIME [ARGS]: the command, in array `cmd`
            local dir=$1 zone=$2 when=$3
            shift 3
            cmd=("$zs" --config "$work/zs/$p.toml" -q sign "$zone" --origin se.
                --out "$dir/se.signed" --now "$(at "$when")" "$@")
        }
        rm -f "$d/full"/se.signed*
        sign "$d/full" "$z" $t0
        measure "full.$p" full "$n" "$p" "${cmd[@]}"
        if [ ! -s "$d/base/se.signed" ] && [ -s "$d/full/se.signed" ]; then
            cp "$d/full"/se.signed* "$d/base/"
            sign "$d/base" "$z" $((t0 + 3 * 86400 - 7200)) && "${cmd[@]}" 2>>"$work/warm-up.log"
        fi
        if [ -s "$d/base/se.signed" ]; then
            rm -f "$d/cycle"/se.signed*
            cp "$d/base"/se.signed.approved* "$d/cycle/"
            sign "$d/cycle" "$z.changed" $((t0 + 3 * 86400)) --previous "$d/base/se.signed"
            measure "cycle.$p" cycle "$n" "$p" "${cmd[@]}"
        fi
        [ -s "$d/full/se.signed" ] || continue
        measure "verify.$p" verify "$n" "$p" "$zs" verify "$d/full/se.signed" --origin se. \
            --anchor "$work/ds.txt" --now "$(at $((t0 + 3600)))" -q
        [ "${KZONECHECK:-1}" = 0 ] && continue
        measure "kzonecheck.$p" kzonecheck "$n" "$p" \
            kzonecheck -o se. -d on -t $((t0 + 3600)) "$d/full/se.signed"
    done
done
