# Shared by bench/run.sh and bench/storms.sh: starting and stopping one system under test.
# Every process started here is stopped by its PID.

bench_prepare() {
    local need=(wrk curl)
    command -v nginx >/dev/null 2>&1 || need+=(nginx)
    command -v varnishd >/dev/null 2>&1 || need+=(varnish)
    local missing=()
    for tool in "${need[@]}"; do
        case "$tool" in
            wrk|curl) command -v "$tool" >/dev/null 2>&1 || missing+=("$tool") ;;
            *) missing+=("$tool") ;;
        esac
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    cargo build --release -q -p isr-bench
    server=target/release/bench-server
    bench_pin
    work=$(mktemp -d)
    # varnishd's worker drops privileges and must reach its working directory.
    chmod 755 "$work"
    pids=()
}

# bench_pin: the server gets CPU 0 and the load generator CPU 1 (when the machine has two), so
# every mode runs under the same conditions. Sets pin_server and pin_client. With
# BENCH_UNPINNED=1 neither is pinned: the server's threads and the load generator share every
# core, as the scheduler places them.
bench_pin() {
    pin_server=()
    pin_client=()
    if [ "${BENCH_UNPINNED:-0}" = 1 ]; then
        return 0
    fi
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
        pin_server=(taskset -c 0)
        pin_client=(taskset -c 1)
    fi
}

bench_cleanup() {
    bench_stop
    rm -rf "$work"
}

# bench_start MODE PORT [TTL]: starts MODE listening on PORT; the origin (for proxies) on
# PORT+1: `nocache`, or `origin-html` (the HTML article) for the `-gzip` peers. Sets
# renders_url to where the origin counts its renders.
bench_start() {
    local mode=$1 port=$2 ttl=${3:-3600}
    local origin=$((port + 1))
    local origin_mode=nocache conf=nginx.conf.in vcl=varnish.vcl.in
    case "$mode" in
        *-gzip) origin_mode=origin-html conf=nginx-gzip.conf.in vcl=varnish-gzip.vcl.in ;;
    esac
    case "$mode" in
        nginx-*|varnish-*)
            "${pin_server[@]}" "$server" "$origin_mode" "$origin" > "$work/origin.log" 2>&1 &
            pids+=($!)
            renders_url="http://127.0.0.1:$origin/__renders"
            ;;
        *)
            renders_url="http://127.0.0.1:$port/__renders"
            ;;
    esac
    case "$mode" in
        nginx-*)
            # A fresh cache each start: nginx would serve the last run's files from disk.
            rm -rf "$work/nginx-cache"
            mkdir -p "$work/nginx-cache"
            sed -e "s#@WORK@#$work#g" -e "s#@PORT@#$port#g" -e "s#@ORIGIN@#$origin#g" -e "s#@TTL@#$ttl#g" -e "s#@KEYS_ZONE@#${BENCH_NGINX_KEYS_ZONE:-16m}#g" \
                -e "s#@GZIP_LEVEL@#${BENCH_NGINX_GZIP_LEVEL:-6}#g" \
                "bench/peers/$conf" > "$work/nginx.conf"
            "${pin_server[@]}" nginx -c "$work/nginx.conf" -p "$work" > "$work/nginx.log" 2>&1 &
            pids+=($!)
            ;;
        varnish-*)
            sed -e "s#@ORIGIN@#$origin#g" -e "s#@TTL@#$ttl#g" "bench/peers/$vcl" > "$work/varnish.vcl"
            "${pin_server[@]}" varnishd -F -a "127.0.0.1:$port" -f "$work/varnish.vcl" \
                -n "$work/varnish" -s malloc,256m -p thread_pools=1 > "$work/varnish.log" 2>&1 &
            pids+=($!)
            ;;
        isr-*)
            BENCH_REVALIDATE_SECS=$([ "$ttl" = 3600 ] && echo "" || echo "$ttl") \
                "${pin_server[@]}" "$server" "$mode" "$port" > "$work/$mode.log" 2>&1 &
            pids+=($!)
            ;;
        *)
            "${pin_server[@]}" "$server" "$mode" "$port" > "$work/$mode.log" 2>&1 &
            pids+=($!)
            ;;
    esac
    for _ in $(seq 1 200); do
        curl -s -o /dev/null "$renders_url" && curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.05
    done
    echo "$mode did not start; logs in $work" >&2
    return 1
}

bench_stop() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

# bench_rss_mib FIRST: resident memory of the processes started by bench_start from index
# FIRST of pids (a peer's origin is pids[0]) and their children, in MiB.
bench_rss_mib() {
    local queue=("${pids[@]:$1}") pid child total=0 kib
    while [ "${#queue[@]}" -gt 0 ]; do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kib:-0}))
        for child in $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
            queue+=("$child")
        done
    done
    awk -v k="$total" 'BEGIN {printf "%.1f", k / 1024}'
}

bench_renders() {
    curl -s "$renders_url"
}

# bench_cpu_ticks: the CPU time (user + system, in clock ticks) used so far by every process
# started by bench_start and their children (nginx's worker, Varnish's cache process, the
# origin), read from /proc/PID/stat.
bench_cpu_ticks() {
    local all=() queue=("${pids[@]}") pid child total=0 stat
    while [ "${#queue[@]}" -gt 0 ]; do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        all+=("$pid")
        for child in $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
            queue+=("$child")
        done
    done
    for pid in "${all[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after the command name (which may hold spaces): utime and stime are the
        # 12th and 13th.
        total=$((total + $(echo "${stat##*) }" | awk '{print $12 + $13}')))
    done
    echo "$total"
}

# wrk prints latency with units; convert to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { printf "%s", v }
    }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
