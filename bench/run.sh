#!/usr/bin/env bash
# Issue 3 benchmarks B1–B4 and the peer comparison, on this machine: the scale lab pinned to
# core 1, the client under test pinned to core 0, each figure printed as it comes. Everything
# talks to 127.0.0.0/8 only. Usage:
#   bench/run.sh [--build-dir DIR] [--mxtls PATH] [--only B1,B2,B3,B4,peers] [--quick]
# --quick uses smaller fleets and concurrencies (a smoke run of the script itself).
set -u
export PATH=$PATH:/usr/sbin:/sbin   # posttls-finger lives in sbin

here=$(cd "$(dirname "$0")" && pwd)
build=${MXTLS_BUILD:-$here/../build}
mxtls=
only=B1,B2,B3,B4,peers
quick=0
while [ $# -gt 0 ]; do
    case $1 in
        --build-dir) build=$2; shift 2 ;;
        --mxtls) mxtls=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
mxtls=${mxtls:-$build/src/mxtls}
minimal=$build/bench/minimal_client
dns_bench=$build/bench/dns_bench
for tool in "$minimal" "$dns_bench"; do
    [ -x "$tool" ] || { echo "run.sh: $tool is missing: build first (ninja -C $build)" >&2; exit 2; }
done
lab_cmd=("$mxtls" lab)
[ -x "$mxtls" ] || { echo "run.sh: $mxtls is missing: build first (ninja -C $build)" >&2; exit 2; }
want() { [[ ",$only," == *",$1,"* ]]; }

work=$(mktemp -d /tmp/mxtls-bench.XXXXXX)
lab_pid=
twin_pid=
cleanup() {
    [ -n "$lab_pid" ] && kill -TERM "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
    [ -n "$twin_pid" ] && kill -TERM "$twin_pid" 2>/dev/null && wait "$twin_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Thousands of sockets on both sides: raise the descriptor limit (root may raise the hard one).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cores=$(nproc)
lab_core=1; client_core=0
[ "$cores" -ge 2 ] || { lab_core=0; echo "run.sh: one core only: lab and client share it"; }

dns_port=5399
smtp_port=2599
dns_addr=127.53.0.53
twin_port=2598          # B2's twin lab: the same fleet without the injected delay
twin_dns_addr=127.53.0.54

say() { printf '%s\n' "$*"; }
figure() { printf '  %-58s %s\n' "$1" "$2"; }

# spawn_lab DIR DNS_ADDR PORT ARGS...: starts a lab on the lab core, its files in DIR (ca.pem,
# domains.txt, targets.txt, lab.log); leaves its pid in $spawned and waits for its description.
spawn_lab() {
    local dir=$1 dns=$2 port=$3; shift 3
    mkdir -p "$dir"
    taskset -c "$lab_core" "${lab_cmd[@]}" --dns "$dns:$dns_port" --smtp-port "$port" \
        --ca-out "$dir/ca.pem" --domains-out "$dir/domains.txt" --targets-out "$dir/targets.txt" \
        "$@" > "$dir/lab.log" 2>&1 &
    spawned=$!
    for _ in $(seq 1 600); do
        if grep -q 'mxtls lab --scale: .*started in' "$dir/lab.log"; then
            say "  lab: $(grep 'started in' "$dir/lab.log" | head -1 | sed 's/^mxtls lab --scale: //')"
            return 0
        fi
        if ! kill -0 "$spawned" 2>/dev/null; then
            say "run.sh: the lab did not start:"; cat "$dir/lab.log"; spawned=; return 1
        fi
        sleep 0.2
    done
    say "run.sh: the lab did not start within 120 s"; return 1
}
# end_lab PID DIR: stops a lab started by spawn_lab and prints its closing line.
end_lab() {
    kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null
    grep 'stopped after' "$2/lab.log" | sed 's/^/  lab: /'
}
# start_lab ARGS...: the lab the scans aim at, files in $work.
start_lab() {
    stop_lab
    spawn_lab "$work" "$dns_addr" "$smtp_port" "$@" || return 1
    lab_pid=$spawned
}
stop_lab() { [ -n "$lab_pid" ] && end_lab "$lab_pid" "$work"; lab_pid=; }
# start_twin ARGS...: a second lab (files in $work/twin) on its own port and DNS address.
start_twin() {
    stop_twin
    spawn_lab "$work/twin" "$twin_dns_addr" "$twin_port" "$@" || return 1
    twin_pid=$spawned
}
stop_twin() { [ -n "$twin_pid" ] && end_lab "$twin_pid" "$work/twin"; twin_pid=; }
# Lab CPU seconds so far (utime + stime of the lab process), to show when the lab is the bottleneck.
lab_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$lab_pid/stat" 2>/dev/null || echo 0
}

# /usr/bin/time -v fields from FILE.
tv() { grep -F "$2" "$1" | head -1 | awk -F': ' '{ print $2 }'; }
cpu_of() { echo "$(tv "$1" 'User time (seconds)') + $(tv "$1" 'System time (seconds)')" | bc -l; }
wall_of() {  # "h:mm:ss" or "m:ss.ss" → seconds
    tv "$1" 'Elapsed (wall clock) time' | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'
}
calc() { echo "scale=6; $*" | bc -l; }
fmt() { printf "%.${2:-1}f" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

scan_help=
scan_common=()
have_scan() {
    [ -x "$mxtls" ] || return 1
    scan_help=$("$mxtls" scan --help 2>&1) || return 1
    grep -q -- '--concurrency' <<<"$scan_help" || return 1
    # Like the minimal client: no MTA-STS/TLS-RPT lookups, a fixed EHLO name (no FQDN lookup).
    scan_common=()
    grep -q -- '--no-policies' <<<"$scan_help" && scan_common+=(--no-policies)
    grep -q -- '--ehlo-name' <<<"$scan_help" && scan_common+=(--ehlo-name bench.mxtls.test)
    return 0
}
no_scan() { say "  SKIPPED: \`mxtls scan\` is not available in $mxtls (build it first); $1 needs it"; }

# run_scan NAME DOMAINS_FILE CONCURRENCY PER_IP [extra scan options]: the scanner on the client
# core under /usr/bin/time -v; leaves $work/NAME.time, $work/NAME.jsonl, $work/NAME.err. It
# scans the lab, or the twin lab when $scan_twin is 1.
scan_twin=0
run_scan() {
    local name=$1 domains=$2 concurrency=$3 per_ip=$4; shift 4
    local aim=(--resolver "$dns_addr:$dns_port" --port "$smtp_port" --ca-file "$work/ca.pem")
    [ "$scan_twin" = 1 ] && aim=(--resolver "$twin_dns_addr:$dns_port" --port "$twin_port" --ca-file "$work/twin/ca.pem")
    rm -f "$work/$name.jsonl"
    taskset -c "$client_core" /usr/bin/time -v -o "$work/$name.time" \
        "$mxtls" scan -i "$domains" -o "$work/$name.jsonl" "${aim[@]}" --concurrency "$concurrency" --per-ip "$per_ip" \
        --quiet "${scan_common[@]}" "$@" > "$work/$name.out" 2> "$work/$name.err"
    local rc=$?
    # 1 only says some domain has no encrypted delivery: expected on a lab of broken hosts.
    [ $rc -le 1 ] || say "  (scan $name exited $rc: $(tail -2 "$work/$name.err" | tr '\n' ' '))"
    return 0
}
# Options the scanner may or may not have; passed only when it does.
scan_option() { grep -q -- "$1" <<<"$scan_help" && printf '%s\n' "$1" "$2"; }

# sample_output FILE SAMPLES: every 0.1 s, "epoch-seconds probe-records-so-far" until killed.
sample_output() {
    : > "$2"
    local count
    while :; do
        count=$(grep -c '"record":"probe"' "$1" 2>/dev/null)
        printf '%s %s\n' "$(date +%s.%N)" "${count:-0}" >> "$2"
        sleep 0.1
    done
}
# steady_rate SAMPLES N: records/s between the samples where 10 % and 90 % of N had arrived.
steady_rate() {
    awk -v n="$2" '$2 >= 0.1 * n && lo == "" { lo = $1; clo = $2 }
                   $2 >= 0.9 * n && hi == "" { hi = $1; chi = $2 }
                   END { if (lo != "" && hi != "" && hi > lo) print (chi - clo) / (hi - lo) }' "$1"
}

# The mean wall time of one probe at concurrency 1 on this fleet (minimal client, sample of 40).
mean_probe_ms() {
    grep ' good$' "$work/targets.txt" | head -40 > "$work/sample.txt"
    taskset -c "$client_core" "$minimal" --targets "$work/sample.txt" --ca-file "$work/ca.pem" \
        | grep -o 'wall_ms_per_probe=[0-9.]*' | cut -d= -f2
}

if [ "$quick" = 1 ]; then
    b1_domains=1000;  b1_rounds=1; b2_domains=6000;  b2_hosts=3000; b2_rounds=2; b2_levels="100 500"; b3_conns=1000; b3_hosts=500
else
    b1_domains=5000;  b1_rounds=5; b2_domains=60000; b2_hosts=5000;  b2_rounds=3; b2_levels="1000 5000 10000"; b3_conns=10000; b3_hosts=5000
fi
say "mxtls benchmarks on $(uname -n): $cores cores, lab on core $lab_core, client on core $client_core"
say "  lab: ${lab_cmd[*]}; scanner: $mxtls"
cpu_per_probe_scan=

# --- B1: CPU per completed probe, scanner vs the minimal blocking OpenSSL client ---------------
if want B1; then
    say ""; say "B1 CPU per probe (good hosts only, no injected delay, $b1_domains domains, one MX name each)"
    if start_lab --scale "$b1_domains" --hosts 1000 --providers 0 --provider-share 0 --mix good=1; then
        probes=$(wc -l < "$work/targets.txt")
        # This machine's speed drifts by a third from minute to minute (a shared VM): the two
        # clients run in turns, and each round's ratio compares runs made side by side. The
        # figures are the medians over the rounds.
        ratios=(); cpus_min=(); cpus_scan=()
        scan_ok=0
        if have_scan; then scan_ok=1; else no_scan B1; fi
        for round in $(seq 1 "$b1_rounds"); do
            taskset -c "$client_core" "$minimal" --targets "$work/targets.txt" --ca-file "$work/ca.pem" > "$work/minimal.out"
            [ "$round" = 1 ] && sed 's/^/  /' "$work/minimal.out"
            cpu_min=$(grep -o 'cpu_us_per_ok_probe=[0-9.]*' "$work/minimal.out" | cut -d= -f2)
            cpus_min+=("$cpu_min")
            [ "$scan_ok" = 1 ] || continue
            run_scan b1 "$work/domains.txt" 200 2
            cpu=$(calc "$(cpu_of "$work/b1.time") * 1000000 / $probes")
            cpus_scan+=("$cpu")
            ratios+=("$(calc "$cpu / $cpu_min")")
            figure "round $round: minimal client / mxtls scan CPU per probe" "$(fmt "$cpu_min") / $(fmt "$cpu") us = $(fmt "${ratios[-1]}" 2)"
        done
        figure "minimal client CPU per probe (median of ${#cpus_min[@]})" "$(fmt "$(median "${cpus_min[@]}")") us"
        if [ ${#cpus_scan[@]} -gt 0 ]; then
            cpu_per_probe_scan=$(median "${cpus_scan[@]}")
            figure "mxtls scan CPU per probe ($probes probes, incl. DNS; median)" "$(fmt "$cpu_per_probe_scan") us"
            figure "ratio scan / minimal (median of rounds; target <= 1.2)" "$(fmt "$(median "${ratios[@]}")" 2)"
            figure "mxtls scan peak RSS (last round)" "$(tv "$work/b1.time" 'Maximum resident set size') KB"
        fi
        stop_lab
    fi
fi

# --- B2: latency-bound throughput at 80 ms median per-reply delay ------------------------------
# The ideal is the issue's min(concurrency / mean probe time, CPU ceiling): the asymptotic
# bound of a closed system, whose CPU term is 1 / (CPU per probe of this workload). Three CPU
# ceilings are printed:
# - this run's own (1 core / the delayed run's CPU per probe): by the utilization law rate /
#   ceiling is then the share of the core the scanner kept busy. It answers B2's question
#   (does latency leave the CPU idle?), and is the one held to the target;
# - a twin of the fleet without the delay, scanned with the same domains in turns with each
#   delayed run: what a probe costs when no reply is ever waited for. Waiting itself costs CPU
#   (a wake-up, a re-arm and a failed read per reply, the server's pure ACKs, colder caches;
#   on loopback the lab's kernel work for those ACKs lands on the scanner's core too), so a
#   delayed run cannot reach it; each round prints delayed / twin CPU per probe, that cost;
# - the B1 figure (1 core / B1's CPU per probe), from a different fleet size and minute.
# bound_of CPU_US_PER_PROBE LATENCY_BOUND: min(latency bound, 1 core / CPU per probe), probes/s.
bound_of() {
    local cpu_bound; cpu_bound=$(calc "1000000 / $1")
    if [ "$(calc "$cpu_bound > $2")" = 1 ]; then echo "$2"; else echo "$cpu_bound"; fi
}
if want B2; then
    say ""; say "B2 probes/s with 80 ms median per-reply delay ($b2_hosts hosts, good only)"
    fleet=(--scale "$b2_domains" --hosts "$b2_hosts" --providers 0 --provider-share 0 --mix good=1)
    if start_lab "${fleet[@]}" --delay-median 80ms --delay-spread 0.5 && start_twin "${fleet[@]}"; then
        mean_ms=$(mean_probe_ms)
        figure "mean probe time at concurrency 1 (minimal client)" "$(fmt "$mean_ms") ms"
        if [ -n "$cpu_per_probe_scan" ]; then
            ceiling=$(calc "1000000 / $cpu_per_probe_scan")
            figure "B1 CPU ceiling (1 core / B1 scan CPU per probe)" "$(fmt "$ceiling" 0) probes/s"
        else
            ceiling=
        fi
        if have_scan; then
            for c in $b2_levels; do
                latency_bound=$(calc "$c * 1000 / $mean_ms")
                ideal=$latency_bound
                [ -n "$ceiling" ] && [ "$(calc "$ceiling < $latency_bound")" = 1 ] && ideal=$ceiling
                # Enough work for ~15 s at the ideal rate, within the zone.
                n=$(calc "$ideal * 15" | cut -d. -f1); [ "$n" -gt "$b2_domains" ] && n=$b2_domains
                [ "$n" -lt "$((c * 2))" ] && n=$((c * 2 < b2_domains ? c * 2 : b2_domains))
                shares=(); shares_b1=(); steadies=(); own_shares=(); own_steadies=(); waits=()
                say "  concurrency $c, $n probes per run, latency bound $(fmt "$latency_bound" 0) probes/s:"
                for round in $(seq 1 "$b2_rounds"); do
                    off=$(( (round - 1) * n )); [ $((off + n)) -gt "$b2_domains" ] && off=0
                    tail -n "+$((off + 1))" "$work/domains.txt" | head -n "$n" > "$work/b2.txt"
                    # The twin first, as B1 scans (concurrency 200, no delay): the CPU ceiling now.
                    scan_twin=1 run_scan "b2_twin" "$work/b2.txt" 200 2
                    twin_cpu=$(calc "$(cpu_of "$work/b2_twin.time") * 1000000 / $n")
                    twin_ideal=$(bound_of "$twin_cpu" "$latency_bound")
                    before=$(lab_cpu)
                    # Results are appended as they complete: counting them every 0.1 s (on the
                    # lab core) gives the steady rate between 10 % and 90 % of the run, without
                    # the ramp-up and the drain of the last $c probes that the whole-run rate has.
                    # (The last round's output goes first: the sampler would count it.)
                    rm -f "$work/b2_$c.jsonl"
                    sample_output "$work/b2_$c.jsonl" "$work/b2_$c.samples" &
                    sampler=$!
                    taskset -cp "$lab_core" "$sampler" > /dev/null 2>&1
                    run_scan "b2_$c" "$work/b2.txt" "$c" 2
                    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
                    lab_used=$(calc "$(lab_cpu) - $before")
                    wall=$(wall_of "$work/b2_$c.time")
                    rate=$(calc "$n / $wall")
                    steady=$(steady_rate "$work/b2_$c.samples" "$n")
                    steady_text=n/a; [ -n "$steady" ] && steady_text=$(fmt "$steady" 0)
                    busy=$(calc "100 * $(cpu_of "$work/b2_$c.time") / $wall")
                    own_cpu=$(calc "$(cpu_of "$work/b2_$c.time") * 1000000 / $n")
                    own_ideal=$(bound_of "$own_cpu" "$latency_bound")
                    own_shares+=("$(calc "100 * $rate / $own_ideal")")
                    [ -n "$steady" ] && own_steadies+=("$(calc "100 * $steady / $own_ideal")")
                    waits+=("$(calc "$own_cpu / $twin_cpu")")
                    shares+=("$(calc "100 * $rate / $twin_ideal")")
                    shares_b1+=("$(calc "100 * $rate / $ideal")")
                    [ -n "$steady" ] && steadies+=("$(calc "100 * $steady / $twin_ideal")")
                    figure "  round $round: $(fmt "$rate" 0) probes/s (steady $steady_text), scanner $(fmt "$busy" 0) % busy" \
                        "own ceiling $(fmt "$own_ideal" 0) ($(fmt "$own_cpu" 0) us/probe) -> $(fmt "${own_shares[-1]}" 0) %"
                    figure "    twin ceiling (no delay); delayed / twin CPU per probe" \
                        "$(fmt "$twin_ideal" 0) ($(fmt "$twin_cpu" 0) us/probe) -> $(fmt "${shares[-1]}" 0) %; $(fmt "${waits[-1]}" 2)"
                    figure "    lab CPU busy (core $lab_core); scanner peak RSS" \
                        "$(fmt "$(calc "100 * $lab_used / $wall")" 0) %; $(tv "$work/b2_$c.time" 'Maximum resident set size') KB"
                done
                figure "  rate / min($c / mean, own CPU ceiling), median" "$(fmt "$(median "${own_shares[@]}")" 0) % (target >= 90 %)"
                [ ${#own_steadies[@]} -gt 0 ] && figure "  steady rate (10 % to 90 % of results) / that, median" "$(fmt "$(median "${own_steadies[@]}")" 0) %"
                figure "  rate / min($c / mean, twin ceiling), median" "$(fmt "$(median "${shares[@]}")" 0) %"
                [ ${#steadies[@]} -gt 0 ] && figure "  steady rate / min($c / mean, twin ceiling), median" "$(fmt "$(median "${steadies[@]}")" 0) %"
                figure "  delayed / twin CPU per probe (the cost of waiting), median" "$(fmt "$(median "${waits[@]}")" 2)"
                [ -n "$ceiling" ] && figure "  rate / min($c / mean, B1 ceiling), median" "$(fmt "$(median "${shares_b1[@]}")" 0) %"
            done
        else
            no_scan B2
        fi
    fi
    stop_twin
    stop_lab
fi

# --- B3: peak RSS per connection, waiting for a banner and in TLS ------------------------------
if want B3; then
    say ""; say "B3 memory per connection ($b3_conns connections at once, $b3_hosts hosts, per-ip 2)"
    if have_scan; then
        timeout_opts=()
        mapfile -t timeout_opts < <(scan_option --greeting-timeout 20; scan_option --command-timeout 20)
        for personality in silent tls_stall; do
            if start_lab --scale "$b3_conns" --hosts "$b3_hosts" --providers 0 --provider-share 0 \
                --mix "$personality=1" --session-timeout 120s; then
                head -n 20 "$work/domains.txt" > "$work/b3_base.txt"
                run_scan "b3_base_$personality" "$work/b3_base.txt" 20 2 "${timeout_opts[@]}"
                run_scan "b3_$personality" "$work/domains.txt" "$b3_conns" 2 "${timeout_opts[@]}"
                base=$(tv "$work/b3_base_$personality.time" 'Maximum resident set size')
                peak=$(tv "$work/b3_$personality.time" 'Maximum resident set size')
                per=$(calc "($peak - $base) * 1024 / $b3_conns")
                what="waiting for a banner (silent)"; target=8192
                [ "$personality" = tls_stall ] && { what="in TLS (handshake done, stalled)"; target=40960; }
                figure "$what: peak $peak KB, baseline $base KB" "$(fmt "$per" 0) B/connection (target <= $target)"
                stop_lab
            fi
        done
    else
        no_scan B3
    fi
fi

# --- B4: DNS lookups per second ----------------------------------------------------------------
if want B4; then
    say ""; say "B4 DNS: MX + A lookups/s with mxtls's resolver against the lab's DNS server"
    if start_lab --scale 100000 --hosts 5000; then
        for c in 100 1000; do
            taskset -c "$client_core" "$dns_bench" --server "$dns_addr:$dns_port" --domains "$work/domains.txt" \
                --count 50000 --concurrency "$c" > "$work/b4.out" 2>&1
            rate=$(grep -o '[0-9]* lookups/s' "$work/b4.out")
            figure "concurrency $c (target >= 20000/s)" "${rate:-failed: $(tail -1 "$work/b4.out")}"
            grep 'failed' "$work/b4.out" | sed 's/^/    /'
        done
        stop_lab
    fi
fi

# --- Peers: posttls-finger in a loop and testssl.sh on a sample --------------------------------
if want peers; then
    say ""; say "Peers on the same fleet (good hosts, no delay, sample of 20)"
    if start_lab --scale 200 --hosts 100 --providers 0 --provider-share 0 --mix good=1; then
        grep ' good$' "$work/targets.txt" | head -20 > "$work/peers.txt"
        n=$(wc -l < "$work/peers.txt")
        taskset -c "$client_core" /usr/bin/time -v -o "$work/minimal_peer.time" \
            "$minimal" --targets "$work/peers.txt" --ca-file "$work/ca.pem" > /dev/null
        base_wall=$(calc "$(wall_of "$work/minimal_peer.time") / $n")
        base_cpu=$(calc "$(cpu_of "$work/minimal_peer.time") / $n")
        figure "minimal client per probe (process incl.)" "$(fmt "$(calc "$base_wall * 1000")" 2) ms wall, $(fmt "$(calc "$base_cpu * 1000")" 2) ms CPU"
        if have_scan; then
            grep -o 'd[0-9]*\.mx\.[a-z.]*' "$work/peers.txt" | sed 's/\.mx\./\./' > "$work/peers_domains.txt"
            run_scan peers "$work/peers_domains.txt" 1 1
            scan_wall=$(calc "$(wall_of "$work/peers.time") / $n"); scan_cpu=$(calc "$(cpu_of "$work/peers.time") / $n")
            figure "mxtls scan --concurrency 1 per probe" "$(fmt "$(calc "$scan_wall * 1000")" 2) ms wall, $(fmt "$(calc "$scan_cpu * 1000")" 2) ms CPU"
        fi
        if command -v posttls-finger > /dev/null; then
            mkdir -p "$work/finger"
            printf 'compatibility_level = 3.6\nmyhostname = bench.mxtls.test\ninet_protocols = ipv4\ndnssec_probe =\n' \
                > "$work/finger/main.cf"
            cat > "$work/finger_loop.sh" <<'EOF'
while read -r ip port sni _; do
    MAIL_CONFIG=$1 posttls-finger -c -t 10 -T 10 -a ipv4 -l verify -F "$2" -s "$sni" "[$ip]:$port" "$sni" 2>&1
done < "$3" > "$4"
EOF
            taskset -c "$client_core" /usr/bin/time -v -o "$work/finger.time" \
                bash "$work/finger_loop.sh" "$work/finger" "$work/ca.pem" "$work/peers.txt" "$work/finger.log"
            figure "posttls-finger: Verified TLS connections" "$(grep -c 'Verified TLS connection established' "$work/finger.log") of $n"
            f_wall=$(calc "$(wall_of "$work/finger.time") / $n"); f_cpu=$(calc "$(cpu_of "$work/finger.time") / $n")
            figure "posttls-finger per probe (process incl.)" "$(fmt "$(calc "$f_wall * 1000")" 2) ms wall, $(fmt "$(calc "$f_cpu * 1000")" 2) ms CPU"
            figure "  ratio posttls-finger / minimal client" "$(fmt "$(calc "$f_wall / $base_wall")" 1)x wall, $(fmt "$(calc "$f_cpu / $base_cpu")" 1)x CPU"
            [ -n "${scan_wall:-}" ] && figure "  ratio posttls-finger / mxtls scan" "$(fmt "$(calc "$f_wall / $scan_wall")" 1)x wall, $(fmt "$(calc "$f_cpu / $scan_cpu")" 1)x CPU"
        else
            say "  posttls-finger: not installed (apt-get install postfix), skipped"
        fi
        testssl=$(command -v testssl || command -v testssl.sh || true)
        if [ -z "$testssl" ] && [ "$(id -u)" = 0 ]; then
            (apt-get install -y testssl.sh > "$work/apt.log" 2>&1 || { apt-get update > /dev/null 2>&1 && apt-get install -y testssl.sh > "$work/apt.log" 2>&1; }) || true
            testssl=$(command -v testssl || command -v testssl.sh || true)
        fi
        if [ -n "$testssl" ]; then
            head -3 "$work/peers.txt" > "$work/testssl.txt"
            m=$(wc -l < "$work/testssl.txt")
            cat > "$work/testssl_loop.sh" <<'EOF'
while read -r ip port sni _; do
    "$1" --quiet --fast --warnings off --color 0 --starttls smtp --ip "$ip" --add-ca "$3" -p "$sni:$port" > /dev/null 2>&1
done < "$2"
EOF
            taskset -c "$client_core" /usr/bin/time -v -o "$work/testssl.time" bash "$work/testssl_loop.sh" "$testssl" "$work/testssl.txt" "$work/ca.pem"
            t_wall=$(calc "$(wall_of "$work/testssl.time") / $m"); t_cpu=$(calc "$(cpu_of "$work/testssl.time") / $m")
            figure "testssl.sh --fast --starttls smtp -p per host ($m hosts)" "$(fmt "$t_wall" 1) s wall, $(fmt "$t_cpu" 1) s CPU"
            figure "  ratio testssl.sh / minimal client" "$(fmt "$(calc "$t_wall / $base_wall")" 0)x wall, $(fmt "$(calc "$t_cpu / $base_cpu")" 0)x CPU"
            [ -n "${scan_wall:-}" ] && figure "  ratio testssl.sh / mxtls scan" "$(fmt "$(calc "$t_wall / $scan_wall")" 0)x wall, $(fmt "$(calc "$t_cpu / $scan_cpu")" 0)x CPU"
        else
            say "  testssl.sh: not installed and not installable offline, skipped"
        fi
        stop_lab
    fi
fi
say ""; say "run.sh: done"
