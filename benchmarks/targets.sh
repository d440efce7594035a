#!/usr/bin/env bash
# The side-by-side measurement of the performance targets (docs/benchmarks.md, "Targets"), 3 forks
# each, about 12 minutes on 2 cores. Run it on an otherwise idle machine:
#
#   benchmarks/targets.sh            # builds the jar first; SKIP_BUILD=1 reuses benchmarks/target/benchmarks.jar
#
# Writes benchmarks/results/targets-<UTC time>/: get-put-t<N>.json (the six charted alternatives at
# 1, 2, 4 and 8 threads), kill.json (primitive and registry kill latency), leases-t<N>.json,
# slot-update.json (SlotUpdateBenchmark and ProbeBenchmark), memory.md, scaling.png (ScalingChart) and jmh.txt (the JMH log).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/benchmarks/target/benchmarks.jar"
java_bin="${JAVA:-java}"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$root" && mvn -B -q -pl benchmarks -am package -DskipTests)
fi
out="$root/benchmarks/results/targets-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
jmh() { "$java_bin" ${JAVA_OPTS:-} -jar "$jar" "$@" 2>&1 | tee -a "$out/jmh.txt"; }
start=$(date +%s)

# get+put pairs: ratios at 1, 2 and 4 threads, and the chart (8 threads too).  ~7 min
for t in 1 2 4 8; do
  jmh 'GetPutBenchmark\.(percpuRef|atomicLong|evenOdd|longAdder|stampedLock|semaphore)$' \
      -t "$t" -f 3 -wi 2 -w 1s -i 3 -r 1s -rf json -rff "$out/get-put-t$t.json"
done
# kill -> confirm / release: primitive (2 hammers) and registry (2 leasing threads), SampleTime.  ~2 min
jmh 'KillLatencyBenchmark\.confirm|RegistryBenchmark\.(confirm|release)' \
    -f 3 -wi 2 -w 1s -i 3 -r 1s -rf json -rff "$out/kill.json"
# lease acquire+close against raw tryGetLive+put, 1 and 2 threads.  ~2 min
for t in 1 2; do
  jmh 'RegistryBenchmark\.(lease|raw)' -t "$t" -f 3 -wi 2 -w 1s -i 3 -r 1s -rf json -rff "$out/leases-t$t.json"
done
# getAndAdd against load + CAS on an own slot, and what finding the stripe costs, 1 thread.  ~1.5 min
jmh 'SlotUpdateBenchmark\.(casOwn|xaddOwn)$|ProbeBenchmark' -t 1 -f 3 -wi 2 -w 1s -i 3 -r 1s -rf json -rff "$out/slot-update.json"
# bytes per ref (JOL) and the chart
"$java_bin" -Djdk.attach.allowAttachSelf=true -cp "$jar" io.percpuref.benchmarks.MemoryFootprint | tee "$out/memory.md"
"$java_bin" -Djava.awt.headless=true -cp "$jar" io.percpuref.benchmarks.ScalingChart "$out" \
  "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $("$java_bin" -version 2>&1 | head -1), 3 forks"
echo "Done in $(( $(date +%s) - start )) s; results in $out"
