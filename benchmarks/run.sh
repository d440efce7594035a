#!/usr/bin/env bash
# Builds the benchmark jar and runs the whole suite with one profile:
#
#   benchmarks/run.sh [smoke|quick|full]        (default: quick)
#
#   smoke  every benchmark once, -f 1 -wi 1 -w 200ms -i 1 -r 200ms   (~3 min; proves they run)
#   quick  -f 1 -wi 3 -w 1s -i 4 -r 1s                                 (~8 min on 2 cores)
#   full   -f 3 -wi 5 -w 2s -i 10 -r 2s                                (~70 min on 2 cores)
#
# benchmarks/targets.sh runs only the target rows, with 3 forks, in about 12 minutes.
#
# get/put pairs run at 1, 2, 4, 8 and 2 x availableProcessors threads (one JMH run per thread
# count), the kill latency groups at their fixed 1 + 2 threads, the registry's leases at 1 and 2
# threads and its kill latency groups; then the memory footprint (JOL) and the scaling chart.
# Results go to benchmarks/results/<profile>-<UTC time>/ (gitignored): get-put-t<N>.json,
# kill.json, registry-leases-t<N>.json, registry-kill.json (JMH JSON), jmh.txt (the JMH log),
# memory.md and summary.md (tables with ratios and targets; summary.md is what
# docs/benchmarks.md quotes) and scaling.png (ops/us against threads, drawn by ScalingChart).
#
# The same runs by hand, with the JMH command line (quick profile shown):
#   java -jar benchmarks/target/benchmarks.jar 'GetPutBenchmark\.' -t 2 -f 1 -wi 3 -w 1s -i 4 -r 1s -rf json -rff get-put-t2.json
#   java -jar benchmarks/target/benchmarks.jar 'KillLatencyBenchmark\.' -f 1 -wi 3 -w 1s -i 4 -r 1s -rf json -rff kill.json
#   java -Djdk.attach.allowAttachSelf=true -cp benchmarks/target/benchmarks.jar io.percpuref.benchmarks.MemoryFootprint
#
# Environment: JAVA (java binary, default: java on PATH), JAVA_OPTS (extra options for the JVM that
# drives JMH; the forks get JMH's defaults), SKIP_BUILD=1 (reuse the jar already in
# benchmarks/target). Run it on an otherwise idle machine: the JMH threads need the CPUs to
# themselves, and the ratios mean little when other builds compete for them. JMH refuses to start
# while another JMH run holds /tmp/jmh.lock; JAVA_OPTS=-Djmh.ignoreLock=true overrides that, at
# the price of both runs measuring each other.
set -euo pipefail

profile="${1:-quick}"
case "$profile" in
  smoke|quick|full) ;;
  *) echo "usage: $0 [smoke|quick|full]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/benchmarks/target/benchmarks.jar"
java_bin="${JAVA:-java}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$root" && mvn -B -q -pl benchmarks -am package -DskipTests)
fi

out="$root/benchmarks/results/$profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "Running the $profile profile; results in $out"
start=$(date +%s)
# shellcheck disable=SC2086 # JAVA_OPTS is a list of options
"$java_bin" ${JAVA_OPTS:-} -Djdk.attach.allowAttachSelf=true -cp "$jar" io.percpuref.benchmarks.Suite "$profile" "$out" \
  2>&1 | tee "$out/jmh.txt"
# The scaling chart (JFreeChart) from the get-put JSON files, with the machine in its title.
"$java_bin" -Djava.awt.headless=true -cp "$jar" io.percpuref.benchmarks.ScalingChart "$out" \
  "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $("$java_bin" -version 2>&1 | head -1), profile $profile"
echo "Done in $(( $(date +%s) - start )) s; summary: $out/summary.md, chart: $out/scaling.png"
