# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_zonesign_global_optspecs
    string join \n config= q/quiet h/help V/version
end

function __fish_zonesign_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_zonesign_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_zonesign_using_subcommand
    set -l cmd (__fish_zonesign_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c zonesign -n "__fish_zonesign_needs_command" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_needs_command" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_needs_command" -s V -l version -d 'Print version'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "init" -d 'Create a local setup: a SoftHSM2 token, PIN files, one KSK and one ZSK, a config'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "sign" -d 'Sign a zone, verify the result against the DS anchor, then write it atomically'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "verify" -d 'Validate a signed zone (from any signer) against a trust anchor'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "key" -d 'Key commands'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "audit" -d 'Audit log commands: check the hash chain, show events (DPS-4.4)'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "check" -d 'Fill in the SEC-* security checklist for this setup (exit 1 if a mandatory row fails)'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "hsm" -d 'HSM commands'
complete -c zonesign -n "__fish_zonesign_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l dir -d 'Directory for the token, config, PIN files, key state and audit log' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l algorithm -d 'Algorithm of the keys (DPS-6.1: the practice statement uses rsasha1); with --adopt, that of the keys to be imported, for the policy' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l token -d 'Label of the token to create' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l module -d 'PKCS#11 module (default: SoftHSM2\'s libsofthsm2.so)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l now -d 'Time recorded for the keys\' creation, publication and activation (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l pin-file -d 'With --adopt: the file holding the token\'s user PIN (mode 0600); the config names it' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l softhsm-conf -d 'With --adopt: the SoftHSM2 configuration of the token, when it is a SoftHSM2 token' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -l adopt -d 'Take over an existing token (another signer\'s): write a config and an empty key state for it, create no token and no key; then `key import` its keys. Needs --module and --pin-file; --token may be a PKCS#11 URI'
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l origin -d 'The zone\'s origin, e.g. `se.`' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l out -d 'Where to write the signed zone (replaced atomically, only after verification)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l ds-anchor -d 'DS (or DNSKEY) records as the parent publishes them; default: the DS of the active KSKs' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l now -d 'Signing time (RFC 3339, e.g. 2026-11-25T12:00:00Z) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l seed -d 'Seed for the validity jitter, for reproducible output' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l sessions -d 'Parallel PKCS#11 sessions (default: config, else one per core)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l previous -d 'Previous signed zone whose still-valid signatures are reused (default: --out, if it exists)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l report -d 'Write the run\'s summary as JSON to FILE (also on failure)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l metrics -d 'Write the run\'s figures in the Prometheus text format to FILE, for node_exporter\'s textfile collector' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l full-verify -d 'Check every signature cryptographically, even those reused from a proven previous output, and read the written file back and verify it again before it replaces the output'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l dry-run -d 'Read the zone and the previous output, report what would be re-signed and why; touch no key, write nothing'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l stats -d 'Print the wall time of each stage (parse, NSEC, signing, verification, output) on stderr'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l accept-changes -d 'Sign this input although it exceeds the [ingress] change limits against the approved zone (a large intended change); audited as changes-accepted. Syntax, zone checks and check programs still apply'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -l strict -d 'Refuse (exit 2) an in-zone name server without an address record (apex NS or missing glue), which BIND and Knot refuse; without it a warning'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand sign" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l origin -d 'The zone\'s origin' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l anchor -d 'DS or DNSKEY records of the zone as the parent publishes them' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l now -d 'Check validity at this time (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l format -d 'Report format' -r -f -a "text\t'For people'
json\t'One JSON object'"
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l max-validity -d 'Longest allowed signature validity (DPS-6.5); 0 turns the check off' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l policy -d 'Which rules fail the zone: `rfc` judges DNSSEC validity by the RFCs and reports the practice statement\'s rules (maximum validity, TTLs), RFC 9276 NSEC3 iterations and RSA keys under 1024 bits as `policy` findings that leave the exit code alone; `dps` fails on them too, as the signing gate does' -r -f -a "rfc\t'DNSSEC validity by the RFCs; policy rules are findings only'
dps\t'The practice statement\'s rules fail the zone too (the signing gate)'"
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l expiring -d 'Exit 6 when any signature expires within this window of now (e.g. 3d), for monitoring' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -l stats -d 'Print the wall time of each stage to stderr: reading and verifying a window at a time, or, for a zone that must be verified whole, reading, verification and freeing the zone'
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "ds" -d 'Print the DS set the parent should publish now (DPS-5.1), or one key\'s DS, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "list" -d 'List the keys: tag, role, algorithm, bits, state (generated, published, ready, active, retired, removed, destroyed), PKCS#11 id and label, past and planned transitions'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "generate" -d 'Generate keys inside the token for later use (a ceremony, DPS-5.1); they are not published until a roll'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "export" -d 'Print the DNSKEY records of the published keys, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "rollover" -d 'Start a key roll now: ZSK by pre-publication, KSK by double signature (DPS-6.4)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "ds-seen" -d 'Record that the parent now publishes the new KSK\'s DS; the old KSK is removed DS TTL + propagation later'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "compromised" -d 'Suspected compromise (DPS-4.5): a ZSK stops signing at once; a KSK gets a new KSK in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "retire" -d 'Take a generated, never published key out of use for good (DPS-5.3); other states are refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "destroy" -d 'Destroy a removed key\'s private and public objects in the token for good (DPS-5.3); needs the PIN; any other state is refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "import" -d 'Take over a key pair another signer made in the token (by PKCS#11 id, label or URI), after checking it is sensitive, not extractable and one pair; needs the PIN'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and not __fish_seen_subcommand_from ds list generate export rollover ds-seen compromised retire destroy import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -l digest -d 'Digest type' -r -f -a "sha256\t'SHA-256 (digest type 2)'
sha384\t'SHA-384 (digest type 4)'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -l origin -d 'Owner name of the DS (default: the zone these keys have signed)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -l tag -d 'Print this key\'s DS only, whatever its state' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -l now -d 'Decide the DS set for this time (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "text\t'For people'
json\t'One JSON object'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from list" -l now -d 'Show states and planned times as of this time (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from list" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l role -d 'Role of the new keys' -r -f -a "ksk\t'Key-signing key'
zsk\t'Zone-signing key'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l algorithm -d 'Algorithm (default: that of the active key of this role, else the policy\'s)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l bits -d 'RSA key size (default: the policy\'s ksk-bits or zsk-bits)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l count -d 'How many keys to generate' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l now -d 'Time to record as the keys\' creation time (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from export" -l origin -d 'Owner name of the DNSKEY records (default: the zone these keys have signed)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from export" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -l role -d 'Which role to roll (a key of the same algorithm replaces the active one)' -r -f -a "ksk\t'Key-signing key'
zsk\t'Zone-signing key'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -l algorithm -d 'Roll both KSK and ZSK to this algorithm (RFC 6781 section 4.1.4; PIPE-7), with the next generated KSK and ZSK of it. Sign runs carry the roll through its steps' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from rollover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds-seen" -l tag -d 'The key\'s tag (see `zonesign key list`)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds-seen" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds-seen" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds-seen" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from ds-seen" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from compromised" -l tag -d 'The key\'s tag (see `zonesign key list`)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from compromised" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from compromised" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from compromised" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from compromised" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from retire" -l tag -d 'The key\'s tag (see `zonesign key list`)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from retire" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from retire" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from retire" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from retire" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from destroy" -l tag -d 'The key\'s tag (see `zonesign key list`)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from destroy" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from destroy" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from destroy" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from destroy" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l role -d 'The key\'s role in the zone' -r -f -a "ksk\t'Key-signing key'
zsk\t'Zone-signing key'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l id -d 'The key\'s PKCS#11 CKA_ID, hex' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l label -d 'The key\'s PKCS#11 CKA_LABEL' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l uri -d 'A PKCS#11 URI (RFC 7512) naming the key by `id=` and/or `object=`' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l from-file -d 'A BIND key file (Kzone.+alg+tag.private, as dnssec-keygen writes it; the .key beside it is read too): the key is put into the token, sensitive and not extractable, after which the file is yours to destroy' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l algorithm -d 'The algorithm; required for RSA keys (rsasha1 or rsasha256 cannot be told from the key)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l state -d 'The state to record: active (it signs the zone now, as under the old signer), published or generated' -r -f -a "active\t'It signs the zone now'
published\t'Its DNSKEY is in the zone, it does not sign yet'
generated\t'Neither: a roll publishes it'"
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l now -d 'Time of the act (RFC 3339) instead of the clock' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "ds" -d 'Print the DS set the parent should publish now (DPS-5.1), or one key\'s DS, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the keys: tag, role, algorithm, bits, state (generated, published, ready, active, retired, removed, destroyed), PKCS#11 id and label, past and planned transitions'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Generate keys inside the token for later use (a ceremony, DPS-5.1); they are not published until a roll'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print the DNSKEY records of the published keys, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "rollover" -d 'Start a key roll now: ZSK by pre-publication, KSK by double signature (DPS-6.4)'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "ds-seen" -d 'Record that the parent now publishes the new KSK\'s DS; the old KSK is removed DS TTL + propagation later'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "compromised" -d 'Suspected compromise (DPS-4.5): a ZSK stops signing at once; a KSK gets a new KSK in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "retire" -d 'Take a generated, never published key out of use for good (DPS-5.3); other states are refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "destroy" -d 'Destroy a removed key\'s private and public objects in the token for good (DPS-5.3); needs the PIN; any other state is refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "import" -d 'Take over a key pair another signer made in the token (by PKCS#11 id, label or URI), after checking it is sensitive, not extractable and one pair; needs the PIN'
complete -c zonesign -n "__fish_zonesign_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -f -a "verify" -d 'Check the audit log\'s hash chain, across its rotated files; say at which line it breaks (exit 1)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -f -a "show" -d 'Print the audit log readably, optionally only some events or a time window'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -f -a "link" -d 'Start a freshly rotated audit log with its `rotated` line now (logrotate\'s postrotate)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and not __fish_seen_subcommand_from verify show link help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from verify" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -l event -d 'Only this event (login, logout, keygen, sign, export, pin-read, syslog-error...); repeatable' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only events at or after this time (RFC 3339)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -l until -d 'Only events at or before this time (RFC 3339)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from link" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from link" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from link" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the audit log\'s hash chain, across its rotated files; say at which line it breaks (exit 1)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the audit log readably, optionally only some events or a time window'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "link" -d 'Start a freshly rotated audit log with its `rotated` line now (logrotate\'s postrotate)'
complete -c zonesign -n "__fish_zonesign_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand check" -l format -d 'Report format' -r -f -a "text\t'For people'
json\t'One JSON object'
markdown\t'A Markdown table for the checklist form'"
complete -c zonesign -n "__fish_zonesign_using_subcommand check" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand check" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -f -a "bench" -d 'Measure the token\'s raw signing rate with the active ZSK, N sessions in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -f -a "worker" -d 'Internal: one signing session for a parent zonesign process, spoken to over stdin and stdout (see `zonesign::hsm::worker`); not for people'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and not __fish_seen_subcommand_from bench worker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -l sessions -d 'Parallel PKCS#11 sessions, one thread each (default: config, else one per core)' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -l seconds -d 'How long to sign, in seconds' -r
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -l format -d 'Report format' -r -f -a "text\t'For people'
json\t'One JSON object'"
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from worker" -l config -d 'Config file (default: $ZONESIGN_CONFIG, else ./.zonesign/zonesign.toml)' -r -F
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from worker" -s q -l quiet -d 'Print nothing on success (errors still go to stderr)'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from worker" -s h -l help -d 'Print help'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from help" -f -a "bench" -d 'Measure the token\'s raw signing rate with the active ZSK, N sessions in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from help" -f -a "worker" -d 'Internal: one signing session for a parent zonesign process, spoken to over stdin and stdout (see `zonesign::hsm::worker`); not for people'
complete -c zonesign -n "__fish_zonesign_using_subcommand hsm; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "init" -d 'Create a local setup: a SoftHSM2 token, PIN files, one KSK and one ZSK, a config'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "sign" -d 'Sign a zone, verify the result against the DS anchor, then write it atomically'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "verify" -d 'Validate a signed zone (from any signer) against a trust anchor'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "key" -d 'Key commands'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "audit" -d 'Audit log commands: check the hash chain, show events (DPS-4.4)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "check" -d 'Fill in the SEC-* security checklist for this setup (exit 1 if a mandatory row fails)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "hsm" -d 'HSM commands'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and not __fish_seen_subcommand_from init sign verify key audit check hsm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "ds" -d 'Print the DS set the parent should publish now (DPS-5.1), or one key\'s DS, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "list" -d 'List the keys: tag, role, algorithm, bits, state (generated, published, ready, active, retired, removed, destroyed), PKCS#11 id and label, past and planned transitions'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "generate" -d 'Generate keys inside the token for later use (a ceremony, DPS-5.1); they are not published until a roll'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "export" -d 'Print the DNSKEY records of the published keys, as zone-file lines'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "rollover" -d 'Start a key roll now: ZSK by pre-publication, KSK by double signature (DPS-6.4)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "ds-seen" -d 'Record that the parent now publishes the new KSK\'s DS; the old KSK is removed DS TTL + propagation later'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "compromised" -d 'Suspected compromise (DPS-4.5): a ZSK stops signing at once; a KSK gets a new KSK in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "retire" -d 'Take a generated, never published key out of use for good (DPS-5.3); other states are refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "destroy" -d 'Destroy a removed key\'s private and public objects in the token for good (DPS-5.3); needs the PIN; any other state is refused'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "import" -d 'Take over a key pair another signer made in the token (by PKCS#11 id, label or URI), after checking it is sensitive, not extractable and one pair; needs the PIN'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the audit log\'s hash chain, across its rotated files; say at which line it breaks (exit 1)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the audit log readably, optionally only some events or a time window'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "link" -d 'Start a freshly rotated audit log with its `rotated` line now (logrotate\'s postrotate)'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from hsm" -f -a "bench" -d 'Measure the token\'s raw signing rate with the active ZSK, N sessions in parallel'
complete -c zonesign -n "__fish_zonesign_using_subcommand help; and __fish_seen_subcommand_from hsm" -f -a "worker" -d 'Internal: one signing session for a parent zonesign process, spoken to over stdin and stdout (see `zonesign::hsm::worker`); not for people'
