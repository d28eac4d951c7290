#!/usr/bin/env bash
# benches/compare.sh: zonesign against the signers an operator would otherwise use (issue 5).
#
#   benches/compare.sh [--sizes "10000 100000"] [--with-1m] [--profiles "rsasha1 ecdsap256sha256"]
#                      [--tools "zonesign ods knot-hsm ldns bind bind-P knot-file"] [--no-install]
#                      [--bench-seconds 5] [--keep] [--out DIR]
#
# One run on one machine: generates the .se-style zone (examples/gen-zone.rs) at each size
# and signs it with
#   zonesign                  keys in a SoftHSM2 token (one PKCS#11 session per core)
#   OpenDNSSEC 2.1 ods-signerd  keys in a SoftHSM2 token of the same settings
#   Knot kzonesign            keystore backend pkcs11 on SoftHSM2 (signing-threads 1: its
#                             threads share one session, more are slower)
#   ldns-signzone, dnssec-signzone -n <cores> (with its verification and with -P),
#   kzonesign                 file keys
# Same algorithm and key sizes per profile, NSEC, 14-day validity (zonesign: 12-14 d with
# jitter, ODS 13 d +/- 1 d). Every output is checked with ldns-verify-zone. Then the verify
# table: zonesign verify, dnssec-verify, ldns-verify-zone and kzonecheck on zonesign's
# signed zone. Then the two-hour cycle: zonesign and `ods-signer sign` (its daemon still
# running) on the same zone with 0.1% of the delegations changed (benches/churn.py).
#
# Columns: wall s, CPU s (user+sys) and peak RSS from GNU time -v (ods-signerd: wall from
# start until its [STATS] line, CPU/RSS of the daemon), signatures (RRSIGs in the output,
# counted after ldns-read-zone), peer wall / zonesign wall, HSM limit = signatures /
# `zonesign hsm bench` rate (cores sessions), OpenSSL limit = signatures / `openssl speed
# -multi <cores>` sign rate of the ZSK algorithm.
#
# Durations on a 2-core VM: 10k + 100k, both profiles: about 12 minutes. --with-1m adds
# the 1M zone (about 1.5M signatures per tool): roughly 1.5-2 hours with all tools (the
# HSM-backed RSASHA1 rows take 6-10 min each), so run it on an otherwise idle machine.
#
# Everything happens in a scratch directory under /tmp (tokens, keys, configs, zones).
# The only file outside it is /var/lib/opendnssec/enforcer/zones.xml, where ods-signerd
# 2.1 reads its zone list; it is backed up and restored on exit. PINs written into the
# ODS and Knot configs are a benchmark convenience, never a product practice.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SIZES="10000 100000"
PROFILES="rsasha1 ecdsap256sha256"
TOOLS="zonesign ods knot-hsm ldns bind bind-P knot-file"
INSTALL=1
BENCH_SECONDS=5
KEEP=0
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --sizes) SIZES=$2; shift ;;
    --with-1m) SIZES="$SIZES 1000000" ;;
    --profiles) PROFILES=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --bench-seconds) BENCH_SECONDS=$2; shift ;;
    --keep) KEEP=1 ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

CORES=$(nproc)
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
ORIGIN=se.
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- dependencies -------------------------------------------------------------------------
if [ "$INSTALL" = 1 ]; then
    PKGS="opendnssec knot knot-dnssecutils ldnsutils bind9-utils softhsm2 time openssl"
    missing=""
    for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        log "installing:$missing"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >&2 ||
            { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >&2; } ||
            { echo "compare.sh: cannot install$missing" >&2; exit 1; }
    fi
fi
[ -e "$SOFTHSM_MODULE" ] || SOFTHSM_MODULE=$(dpkg -L softhsm2 2>/dev/null | grep 'libsofthsm2.so$' | head -1)

log "building zonesign and gen-zone (release)"
(cd "$REPO" && cargo build --release -q && cargo build --release -q --example gen-zone) || exit 1
ZS=$REPO/target/release/zonesign
GEN=$REPO/target/release/examples/gen-zone

S=$(mktemp -d /tmp/zonesign-compare.XXXXXX)
[ -n "$OUT" ] || OUT=$S
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
VRESULTS=$OUT/verify.tsv
CRESULTS=$OUT/cycle.tsv
: >"$RESULTS"
: >"$VRESULTS"
: >"$CRESULTS"

ODS_ZONES=/var/lib/opendnssec/enforcer/zones.xml
ODS_BACKUP=""
cleanup() {
    if [ -n "${ODS_PID:-}" ] && kill -0 "$ODS_PID" 2>/dev/null; then
        ods-signer stop >/dev/null 2>&1 || kill "$ODS_PID" 2>/dev/null
    fi
    if [ -n "$ODS_BACKUP" ]; then
        if [ "$ODS_BACKUP" = none ]; then rm -f "$ODS_ZONES"; else mv -f "$ODS_BACKUP" "$ODS_ZONES"; fi
    fi
    if [ "$KEEP" = 0 ]; then
        rm -f "$S"/zone-*.zone
        find "$S" -name '*.signed' -delete 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ------------------------------------------------------------------------------
# parse_time FILE -> "wall cpu rss_mib" from GNU time -v output
parse_time() {
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $2 } /System time/ { s = $2 }
        /Maximum resident set size/ { r = $2 }
        END { printf "%.2f %.2f %.0f\n", w, u + s, r / 1024 }' "$1"
}

# count_sigs SIGNED -> number of RRSIG records
count_sigs() { ldns-read-zone "$1" 2>/dev/null | awk '$4 == "RRSIG" { n++ } END { print n + 0 }'; }

# validate SIGNED -> "ok" or "FAIL"
validate() {
    if ldns-verify-zone "$1" >"$1.verify.log" 2>&1; then echo ok; else echo FAIL; fi
}

# row TOOL KEYS SIZE PROFILE WALL CPU RSS SIGS VALID (+ the 1-minute load average: other
# work on the machine shows up in wall times, CPU seconds are the steadier comparison)
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RESULTS"; }

# timed NAME -- CMD... : runs CMD under GNU time -v; sets WALL CPU RSS, returns its status
timed() {
    local name=$1; shift
    /usr/bin/time -v -o "$S/$name.time" "$@" >"$S/$name.log" 2>&1
    local rc=$?
    read -r WALL CPU RSS < <(parse_time "$S/$name.time")
    [ $rc = 0 ] || log "$name failed (exit $rc), see $S/$name.log"
    return $rc
}

# finish NAME TOOL KEYS SIZE PROFILE SIGNED RC
finish() {
    local name=$1 tool=$2 keys=$3 size=$4 prof=$5 signed=$6 rc=$7 sigs=0 valid=FAIL
    if [ "$rc" = 0 ] && [ -s "$signed" ]; then
        sigs=$(count_sigs "$signed")
        valid=$(validate "$signed")
    fi
    row "$tool" "$keys" "$size" "$prof" "$WALL" "$CPU" "$RSS" "$sigs" "$valid"
    log "$tool ($keys) $size $prof: ${WALL}s wall, ${CPU}s CPU, ${RSS} MiB, $sigs RRSIGs, $valid"
}

softhsm_token() { # DIR LABEL -> token in DIR/tokens, conf DIR/softhsm2.conf
    mkdir -p "$1/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$1" >"$1/softhsm2.conf"
    SOFTHSM2_CONF=$1/softhsm2.conf softhsm2-util --init-token --free --label "$2" --pin 1234 --so-pin 5678 >/dev/null
}

# --- per-profile parameters ---------------------------------------------------------------
profile_params() {
    case "$1" in
    rsasha1)
        ALG_NUM=5 LDNS_ALG=RSASHA1 BIND_ALG=RSASHA1 KNOT_ALG=rsasha1
        ZSK_BITS=1024 KSK_BITS=2048 ODS_KIND=rsa SPEED_ARG=rsa1024 ;;
    ecdsap256sha256)
        ALG_NUM=13 LDNS_ALG=ECDSAP256SHA256 BIND_ALG=ECDSAP256SHA256 KNOT_ALG=ecdsap256sha256
        ZSK_BITS=256 KSK_BITS=256 ODS_KIND=ecdsa SPEED_ARG=ecdsap256 ;;
    *) echo "compare.sh: unknown profile $1" >&2; exit 2 ;;
    esac
}

openssl_rate() { # sign/s of SPEED_ARG with CORES processes
    openssl speed -multi "$CORES" -seconds 3 "$1" 2>/dev/null | awk -v a="$1" '
        a ~ /^rsa/ && $1 == "rsa" && $3 == "bits" { r = $6 }
        a ~ /^ecdsa/ && $3 == "ecdsa" { r = $7 }
        END { print r + 0 }'
}

# --- the machine ---------------------------------------------------------------------------
MACHINE="$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -r)"
VERSIONS="zonesign $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); $(ods-signerd -V 2>&1 | grep -o 'version [0-9.]*' | head -1 | sed 's/^/OpenDNSSEC /'); $(kzonesign -V 2>&1 | head -1); $(ldns-signzone -v 2>&1 | head -1); BIND $(dnssec-signzone -V 2>&1 | head -1); SoftHSM $(dpkg-query -W -f '${Version}' softhsm2); $(openssl version | cut -d' ' -f1-2)"
log "machine: $MACHINE"
log "scratch: $S"

NOW=$(date -u +%s)
START=$((NOW - 3600))
END=$((START + 14 * 86400))
START_TS=$(date -u -d "@$START" +%Y%m%d%H%M%S)
END_TS=$(date -u -d "@$END" +%Y%m%d%H%M%S)

for size in $SIZES; do
    [ -s "$S/zone-$size.zone" ] && continue
    log "generating $size delegations"
    /usr/bin/time -v -o "$S/gen-$size.time" "$GEN" --delegations "$size" --seed 1 --out "$S/zone-$size.zone" || exit 1
    read -r w c r < <(parse_time "$S/gen-$size.time")
    log "  $(wc -l <"$S/zone-$size.zone") lines, $(du -m "$S/zone-$size.zone" | cut -f1) MiB in ${w}s"
    # The two-hour cycle's input: 0.1% of the delegations changed, the serial moved on.
    python3 "$REPO/benches/churn.py" "$S/zone-$size.zone" "$size" --bump-serial || exit 1
done

# crow TOOL SIZE PROFILE WALL CPU MADE: one row of the two-hour-cycle table
crow() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$CRESULTS"; }
# proc_cpu PID -> user+sys seconds so far of that process
proc_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }

declare -A HSM_RATE SSL_RATE
for prof in $PROFILES; do
    profile_params "$prof"
    P=$S/$prof
    mkdir -p "$P"

    # --- zonesign setup and its HSM limit
    ZD=$P/zonesign
    "$ZS" init -q --dir "$ZD" --algorithm "$prof" --token zonesign >/dev/null || exit 1
    ZCONF=$ZD/zonesign.toml
    "$ZS" --config "$ZCONF" -q key ds --origin $ORIGIN >"$P/zonesign-ds.txt" || exit 1
    HSM_RATE[$prof]=$("$ZS" --config "$ZCONF" hsm bench --seconds "$BENCH_SECONDS" --format json |
        awk -F': ' '/"rate"/ { gsub(",", "", $2); printf "%.0f", $2 }')
    SSL_RATE[$prof]=$(openssl_rate "$SPEED_ARG")
    log "$prof: zonesign hsm bench ${HSM_RATE[$prof]} sig/s ($CORES sessions), openssl speed -multi $CORES ${SSL_RATE[$prof]} sign/s"

    # --- OpenDNSSEC: token, keys, signconf (no enforcer: the signer needs only these)
    if has_tool ods; then
        OD=$P/ods
        mkdir -p "$OD"
        softhsm_token "$OD" ods
        cat >"$OD/conf.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
 <RepositoryList>
  <Repository name="SoftHSM">
   <Module>$SOFTHSM_MODULE</Module><TokenLabel>ods</TokenLabel><PIN>1234</PIN><SkipPublicKey/>
  </Repository>
 </RepositoryList>
 <Common>
  <Logging><Verbosity>3</Verbosity></Logging>
  <PolicyFile>/usr/share/opendnssec/kasp.xml</PolicyFile>
  <ZoneListFile>$OD/zonelist.xml</ZoneListFile>
 </Common>
 <Enforcer><Datastore><SQLite>$OD/kasp.db</SQLite></Datastore></Enforcer>
 <Signer>
  <WorkingDirectory>$OD/work</WorkingDirectory>
  <WorkerThreads>$CORES</WorkerThreads>
  <SignerThreads>$CORES</SignerThreads>
 </Signer>
</Configuration>
EOF
        gen_ods_key() { SOFTHSM2_CONF=$OD/softhsm2.conf ods-hsmutil -c "$OD/conf.xml" generate SoftHSM "$ODS_KIND" "$1" | sed -n 's/^Key generation successful: //p'; }
        KSK_LOC=$(gen_ods_key "$KSK_BITS")
        ZSK_LOC=$(gen_ods_key "$ZSK_BITS")
        cat >"$OD/signconf.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<SignerConfiguration>
 <Zone name="se">
  <Signatures>
   <Resign>PT2H</Resign><Refresh>P10D</Refresh>
   <Validity><Default>P13D</Default><Denial>P13D</Denial></Validity>
   <Jitter>P1D</Jitter><InceptionOffset>PT3600S</InceptionOffset>
  </Signatures>
  <Denial><NSEC/></Denial>
  <Keys>
   <TTL>PT3600S</TTL>
   <Key><Flags>257</Flags><Algorithm>$ALG_NUM</Algorithm><Locator>$KSK_LOC</Locator><KSK/><Publish/></Key>
   <Key><Flags>256</Flags><Algorithm>$ALG_NUM</Algorithm><Locator>$ZSK_LOC</Locator><ZSK/><Publish/></Key>
  </Keys>
  <SOA><TTL>PT86400S</TTL><Minimum>PT7200S</Minimum><Serial>keep</Serial></SOA>
 </Zone>
</SignerConfiguration>
EOF
    fi

    # --- Knot: one config per key storage
    knot_setup() { # DIR KEYSTORE-YAML THREADS
        local KD=$1
        mkdir -p "$KD/db"
        cat >"$KD/knot.conf" <<EOF
server:
    rundir: $KD
database:
    storage: $KD/db
$2
policy:
  - id: p
    keystore: ks
    manual: on
    algorithm: $KNOT_ALG
    ksk-size: $KSK_BITS
    zsk-size: $ZSK_BITS
    dnskey-ttl: 3600
    rrsig-lifetime: 14d
    rrsig-refresh: 10d
    nsec3: off
    signing-threads: $3
zone:
  - domain: se.
    file: $KD/input.zone
    storage: $KD
    dnssec-signing: on
    dnssec-policy: p
EOF
        local sz=""; [ "$KNOT_ALG" = rsasha1 ] && sz="size=$KSK_BITS"
        keymgr -c "$KD/knot.conf" se. generate algorithm="$KNOT_ALG" $sz ksk=yes zsk=no >/dev/null || return 1
        sz=""; [ "$KNOT_ALG" = rsasha1 ] && sz="size=$ZSK_BITS"
        keymgr -c "$KD/knot.conf" se. generate algorithm="$KNOT_ALG" $sz ksk=no >/dev/null || return 1
    }
    if has_tool knot-hsm; then
        softhsm_token "$P/knot-hsm" knot
        SOFTHSM2_CONF=$P/knot-hsm/softhsm2.conf knot_setup "$P/knot-hsm" "keystore:
  - id: ks
    backend: pkcs11
    config: \"pkcs11:token=knot;pin-value=1234 $SOFTHSM_MODULE\"" 1 || log "knot pkcs11 setup failed"
    fi
    if has_tool knot-file; then
        knot_setup "$P/knot-file" "keystore:
  - id: ks
    backend: pem" "$CORES" || log "knot file-key setup failed"
    fi

    # --- ldns and BIND file keys
    if has_tool ldns; then
        mkdir -p "$P/ldns"
        (cd "$P/ldns" && ldns-keygen -a "$LDNS_ALG" -b "$ZSK_BITS" se. >zsk && ldns-keygen -k -a "$LDNS_ALG" -b "$KSK_BITS" se. >ksk) || log "ldns-keygen failed"
    fi
    if has_tool bind || has_tool bind-P; then
        mkdir -p "$P/bind"
        bsz=(); [ "$BIND_ALG" = RSASHA1 ] && bsz=(-b "$ZSK_BITS")
        dnssec-keygen -q -K "$P/bind" -a "$BIND_ALG" "${bsz[@]}" -n ZONE se. >/dev/null
        [ "$BIND_ALG" = RSASHA1 ] && bsz=(-b "$KSK_BITS")
        dnssec-keygen -q -K "$P/bind" -a "$BIND_ALG" "${bsz[@]}" -f KSK -n ZONE se. >/dev/null
    fi

    for size in $SIZES; do
        Z=$S/zone-$size.zone
        R=$P/$size
        mkdir -p "$R"

        if has_tool zonesign; then
            timed "$prof-$size-zonesign" "$ZS" --config "$ZCONF" -q sign "$Z" --origin $ORIGIN --out "$R/zonesign.signed"
            finish "$prof-$size-zonesign" zonesign "SoftHSM2" "$size" "$prof" "$R/zonesign.signed" $?
        fi

        if has_tool ods; then
            if pgrep -x ods-signerd >/dev/null; then
                log "an ods-signerd is already running (its control socket is fixed): skipping OpenDNSSEC"
                row ods-signer SoftHSM2 "$size" "$prof" - - - 0 skipped
            else
                if [ -z "$ODS_BACKUP" ]; then
                    if [ -e "$ODS_ZONES" ]; then ODS_BACKUP=$S/zones.xml.orig; cp -p "$ODS_ZONES" "$ODS_BACKUP"; else ODS_BACKUP=none; fi
                fi
                cat >"$ODS_ZONES" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<ZoneList><Zone name="se"><Policy>default</Policy>
 <SignerConfiguration>$OD/signconf.xml</SignerConfiguration>
 <Adapters><Input><Adapter type="File">$R/ods-input.zone</Adapter></Input>
 <Output><Adapter type="File">$R/ods.signed</Adapter></Output></Adapters>
</Zone></ZoneList>
EOF
                rm -rf "$OD/work" && mkdir -p "$OD/work"
                cp "$Z" "$R/ods-input.zone"
                name=$prof-$size-ods
                : >"$S/$name.log"
                t0=$(date +%s.%N)
                SOFTHSM2_CONF=$OD/softhsm2.conf /usr/bin/time -v -o "$S/$name.time" ods-signerd -c "$OD/conf.xml" -d >"$S/$name.log" 2>&1 &
                ODS_PID=$!
                ok=1
                until grep -q '\[STATS\] se ' "$S/$name.log"; do
                    if ! kill -0 "$ODS_PID" 2>/dev/null || grep -q 'error.*\[\(signconf\|zone\|adapter\)' "$S/$name.log"; then ok=0; break; fi
                    sleep 0.2
                done
                t1=$(date +%s.%N)
                # The two-hour cycle: the changed zone in place of the input, then
                # `ods-signer sign se` (re-read and re-sign), timed until its [STATS] line.
                if [ $ok = 1 ]; then
                    # The full sign's output, for its row (the cycle rewrites the file).
                    cp "$R/ods.signed" "$R/ods.full.signed"
                    DAEMON=$(pgrep -P "$ODS_PID" -x ods-signerd | head -1)
                    cp "$Z.changed" "$R/ods-input.zone"
                    c0=$(proc_cpu "$DAEMON")
                    t2=$(date +%s.%N)
                    ods-signer sign se >>"$S/$name.cycle.log" 2>&1
                    until [ "$(grep -c '\[STATS\] se ' "$S/$name.log")" -ge 2 ]; do
                        kill -0 "$ODS_PID" 2>/dev/null || break
                        sleep 0.1
                    done
                    t3=$(date +%s.%N)
                    c1=$(proc_cpu "$DAEMON")
                    made=$(grep '\[STATS\] se ' "$S/$name.log" | sed -n '2s/.*RRSIG\[new=\([0-9]*\).*/\1/p')
                    crow ods-signer "$size" "$prof" "$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')" \
                        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" "${made:--}"
                    log "ods-signer cycle $size $prof: $(tail -c 300 "$S/$name.log" | grep -o 'TOTAL.*' | tail -1)"
                fi
                ods-signer stop >/dev/null 2>&1
                wait "$ODS_PID"
                ODS_PID=""
                read -r _ CPU RSS < <(parse_time "$S/$name.time")
                WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
                [ $ok = 1 ] || log "ods-signerd failed, see $S/$name.log"
                finish "$name" ods-signer SoftHSM2 "$size" "$prof" "$R/ods.full.signed" $((1 - ok))
            fi
        fi

        knot_sign() { # DIR TOOL KEYS
            local KD=$1
            rm -rf "$KD/db/journal" "$KD/db/timers" "$KD/out" && mkdir -p "$KD/out"
            ln -sf "$Z" "$KD/input.zone"
            SOFTHSM2_CONF=$KD/softhsm2.conf timed "$prof-$size-$2" kzonesign -c "$KD/knot.conf" -o "$KD/out" se.
            local rc=$?
            mv -f "$KD/out/input.zone" "$R/$2.signed" 2>/dev/null
            finish "$prof-$size-$2" kzonesign "$3" "$size" "$prof" "$R/$2.signed" $rc
        }
        has_tool knot-hsm && knot_sign "$P/knot-hsm" knot-hsm "SoftHSM2 (pkcs11, 1 thread)"

        if has_tool ldns; then
            timed "$prof-$size-ldns" ldns-signzone -i "$START_TS" -e "$END_TS" -o se. -f "$R/ldns.signed" "$Z" "$P/ldns/$(cat "$P/ldns/zsk")" "$P/ldns/$(cat "$P/ldns/ksk")"
            finish "$prof-$size-ldns" ldns-signzone "files" "$size" "$prof" "$R/ldns.signed" $?
        fi
        if has_tool bind; then
            timed "$prof-$size-bind" dnssec-signzone -S -K "$P/bind" -d "$P/bind" -o se. -O full -N keep -s "$START_TS" -e "$END_TS" -n "$CORES" -f "$R/bind.signed" "$Z"
            finish "$prof-$size-bind" "dnssec-signzone -n $CORES" "files" "$size" "$prof" "$R/bind.signed" $?
        fi
        if has_tool bind-P; then
            timed "$prof-$size-bind-P" dnssec-signzone -P -S -K "$P/bind" -d "$P/bind" -o se. -O full -N keep -s "$START_TS" -e "$END_TS" -n "$CORES" -f "$R/bind-P.signed" "$Z"
            finish "$prof-$size-bind-P" "dnssec-signzone -n $CORES -P" "files" "$size" "$prof" "$R/bind-P.signed" $?
        fi
        has_tool knot-file && knot_sign "$P/knot-file" knot-file "files ($CORES threads)"

        # --- the verify table, on zonesign's output
        ZSIGNED=$R/zonesign.signed
        if [ -s "$ZSIGNED" ]; then
            vrow() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$VRESULTS"; }
            for v in zonesign dnssec-verify ldns-verify-zone kzonecheck; do
                case $v in
                zonesign) cmd=("$ZS" verify "$ZSIGNED" --origin $ORIGIN --anchor "$P/zonesign-ds.txt") ;;
                dnssec-verify) cmd=(dnssec-verify -o se. "$ZSIGNED") ;;
                ldns-verify-zone) cmd=(ldns-verify-zone "$ZSIGNED") ;;
                kzonecheck) cmd=(kzonecheck -o se. -d on "$ZSIGNED") ;;
                esac
                if timed "$prof-$size-verify-$v" "${cmd[@]}"; then res=valid; else res=FAIL; fi
                vrow "$v" "$size" "$prof" "$WALL" "$CPU" "$RSS" "$res"
                log "verify $v $size $prof: ${WALL}s, ${CPU}s CPU, ${RSS} MiB, $res"
            done
        fi
        # --- the two-hour cycle: the changed zone against the previous output
        if has_tool zonesign && [ -s "$ZSIGNED" ]; then
            if timed "$prof-$size-zonesign-cycle" "$ZS" --config "$ZCONF" -q sign "$Z.changed" --origin $ORIGIN \
                --out "$ZSIGNED" --report "$R/zonesign-cycle.json"; then
                made=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['signatures_made'])" "$R/zonesign-cycle.json")
                crow zonesign "$size" "$prof" "$WALL" "$CPU" "$made"
                log "zonesign cycle $size $prof: ${WALL}s wall, ${CPU}s CPU, $made signatures made"
            fi
        fi
        [ "$KEEP" = 1 ] || rm -f "$R"/*.signed "$R"/*.verify.log "$R/ods-input.zone"
    done
done

# --- the tables -----------------------------------------------------------------------------
{
    echo "machine: $MACHINE"
    echo "versions: $VERSIONS"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| tool | keys | delegations | algorithm | wall s | CPU s | peak RSS MiB | signatures | valid | peer wall / ours | HSM limit s | OpenSSL limit s | load |"
    echo "|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    while IFS=$'\t' read -r tool keys size prof wall cpu rss sigs valid load; do
        ours=$(awk -F'\t' -v s="$size" -v p="$prof" '$1 == "zonesign" && $3 == s && $4 == p { print $5 }' "$RESULTS")
        ratio=-; hsm=-; ssl=-
        if [ -n "$ours" ] && [ "$wall" != - ]; then ratio=$(awk -v a="$wall" -v b="$ours" 'BEGIN { if (b > 0) printf "%.2f", a / b }'); fi
        if [ "$sigs" -gt 0 ] 2>/dev/null; then
            hsm=$(awk -v n="$sigs" -v r="${HSM_RATE[$prof]:-0}" 'BEGIN { if (r > 0) printf "%.1f", n / r; else print "-" }')
            ssl=$(awk -v n="$sigs" -v r="${SSL_RATE[$prof]:-0}" 'BEGIN { if (r > 0) printf "%.1f", n / r; else print "-" }')
        fi
        echo "| $tool | $keys | $size | $prof | $wall | $cpu | $rss | $sigs | $valid | $ratio | $hsm | $ssl | $load |"
    done <"$RESULTS"
    echo
    for prof in $PROFILES; do
        echo "$prof: zonesign hsm bench ${HSM_RATE[$prof]} sig/s with $CORES sessions; openssl speed -multi $CORES ${SSL_RATE[$prof]} sign/s"
    done
    echo
    echo "verify (zonesign's signed zone):"
    echo
    echo "| validator | delegations | algorithm | wall s | CPU s | peak RSS MiB | result | wall / zonesign verify |"
    echo "|---|---:|---|---:|---:|---:|---|---:|"
    while IFS=$'\t' read -r v size prof wall cpu rss res; do
        ours=$(awk -F'\t' -v s="$size" -v p="$prof" '$1 == "zonesign" && $2 == s && $3 == p { print $4 }' "$VRESULTS")
        ratio=$(awk -v a="$wall" -v b="$ours" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        echo "| $v | $size | $prof | $wall | $cpu | $rss | $res | $ratio |"
    done <"$VRESULTS"
    echo
    echo "two-hour cycle (0.1% of delegations changed, serial moved on; run right after the full sign, so"
    echo "no signature is due for renewal: benches/cycle.sh measures a renewal wave):"
    echo
    echo "| tool | delegations | algorithm | wall s | CPU s | signatures made | wall / zonesign |"
    echo "|---|---:|---|---:|---:|---:|---:|"
    while IFS=$'\t' read -r tool size prof wall cpu made; do
        ours=$(awk -F'\t' -v s="$size" -v p="$prof" '$1 == "zonesign" && $2 == s && $3 == p { print $4 }' "$CRESULTS")
        ratio=$(awk -v a="$wall" -v b="$ours" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        echo "| $tool | $size | $prof | $wall | $cpu | $made | $ratio |"
    done <"$CRESULTS"
} | tee "$OUT/results.md"
log "results: $OUT/results.md (raw: $RESULTS, $VRESULTS; logs in $S)"
