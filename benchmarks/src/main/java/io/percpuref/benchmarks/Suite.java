package io.percpuref.benchmarks;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.util.Statistics;

/**
 * Runs the whole benchmark suite with one of three profiles and writes, under the output
 * directory: one JMH JSON file per run ({@code get-put-t<threads>.json}, {@code kill.json}), the
 * memory table ({@code memory.md}) and {@code summary.md}, the results table with the ratio
 * columns and the targets of the benchmark issue. The human-readable JMH log goes to standard
 * output ({@code run.sh} saves it next to the JSON).
 *
 * <pre>
 *   java -cp benchmarks.jar io.percpuref.benchmarks.Suite quick benchmarks/results/quick
 * </pre>
 *
 * <p>Profiles (forks, warmup, measurement):
 * <ul>
 *   <li>{@code smoke}: 1 fork, 1 x 200 ms, 1 x 200 ms. Proves every benchmark runs; the numbers mean
 *   nothing.</li>
 *   <li>{@code quick}: 1 fork, 3 x 1 s, 4 x 1 s. About 8 minutes on 2 cores; enough for the ratios
 *   on a quiet machine.</li>
 *   <li>{@code full}: 3 forks, 5 x 2 s, 10 x 2 s. About 70 minutes on 2 cores (each thread count beyond 1, 2, 4, 8 adds some 15); the numbers to
 *   publish.</li>
 * </ul>
 * get/put pairs run at 1, 2, 4, 8 and 2 x {@code availableProcessors} threads; the kill latency
 * groups at their fixed {@value KillLatencyBenchmark#HAMMERS} hammers plus one measuring thread; the
 * registry's leases at 1 and 2 threads and its kill latency groups
 * ({@value RegistryBenchmark#HAMMERS} leasing threads). {@code run.sh} then draws the chart
 * ({@link ScalingChart}).
 */
public final class Suite {

    /** Forks, warmup and measurement iterations and times of one profile. */
    enum Profile {
        SMOKE(1, 1, TimeValue.milliseconds(200), 1, TimeValue.milliseconds(200)),
        QUICK(1, 3, TimeValue.seconds(1), 4, TimeValue.seconds(1)),
        FULL(3, 5, TimeValue.seconds(2), 10, TimeValue.seconds(2));

        final int forks;
        final int warmupIterations;
        final TimeValue warmupTime;
        final int iterations;
        final TimeValue iterationTime;

        Profile(int forks, int warmupIterations, TimeValue warmupTime, int iterations, TimeValue iterationTime) {
            this.forks = forks;
            this.warmupIterations = warmupIterations;
            this.warmupTime = warmupTime;
            this.iterations = iterations;
            this.iterationTime = iterationTime;
        }

        String jmhFlags() {
            return "-f " + forks + " -wi " + warmupIterations + " -w " + warmupTime
                    + " -i " + iterations + " -r " + iterationTime;
        }
    }

    /** get/put columns in table order: JMH method name and column title. */
    private static final String[][] GET_PUT_COLUMNS = {
            {"percpuRef", "PercpuRef get+put"},
            {"percpuRefTryGetLive", "PercpuRef tryGetLive+put"},
            {"percpuRefMany", "PercpuRef get(16)+put(16)"},
            {"atomicLong", "AtomicLong"},
            {"atomicLongTryGet", "AtomicLong tryGet"},
            {"evenOdd", "even/odd"},
            {"longAdder", "LongAdder"},
            {"readWriteLock", "RRWL read"},
            {"stampedLock", "StampedLock read"},
            {"semaphore", "Semaphore"},
    };

    /** Kill latency rows: group, measuring method, description. */
    private static final String[][] KILL_ROWS = {
            {"confirm", "confirmKill", "kill -> confirm, " + KillLatencyBenchmark.HAMMERS + " threads hammering"},
            {"release", "releaseKill", "kill -> release, " + KillLatencyBenchmark.HAMMERS + " threads hammering"},
            {"resurrect", "roundTrip", "kill + resurrect, " + KillLatencyBenchmark.HAMMERS + " threads hammering"},
            {"roundTripIdle", null, "kill + resurrect, idle ref"},
    };

    private Suite() {
    }

    public static void main(String[] args) throws RunnerException, IOException, InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: Suite smoke|quick|full <output directory>");
            System.exit(2);
        }
        Profile profile = Profile.valueOf(args[0].toUpperCase(Locale.ROOT));
        Path out = Paths.get(args[1]);
        Files.createDirectories(out);
        Instant start = Instant.now();
        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();

        Map<Integer, Map<String, Result<?>>> getPut = new TreeMap<>();
        for (int threads : threadCounts()) {
            Collection<RunResult> results = new Runner(options(profile, out, "get-put-t" + threads)
                    .include(GetPutBenchmark.class.getName() + "\\.")
                    .threads(threads)
                    .build()).run();
            Map<String, Result<?>> byMethod = new TreeMap<>();
            for (RunResult r : results) {
                byMethod.put(method(r), r.getPrimaryResult());
            }
            getPut.put(threads, byMethod);
        }
        Collection<RunResult> kill = new Runner(options(profile, out, "kill")
                .include(KillLatencyBenchmark.class.getName() + "\\.")
                .build()).run();
        Map<Integer, Map<String, Result<?>>> leases = new TreeMap<>();
        for (int threads : new int[] {1, 2}) {
            Map<String, Result<?>> byMethod = new TreeMap<>();
            for (RunResult r : new Runner(options(profile, out, "registry-leases-t" + threads)
                    .include(RegistryBenchmark.class.getName() + "\\.(lease|raw)")
                    .threads(threads)
                    .build()).run()) {
                String leak = r.getParams().getParam("leakDetection");
                byMethod.put(method(r) + (leak != null ? "/" + leak : ""), r.getPrimaryResult());
            }
            leases.put(threads, byMethod);
        }
        Collection<RunResult> registryKill = new Runner(options(profile, out, "registry-kill")
                .include(RegistryBenchmark.class.getName() + "\\.(confirm|release)")
                .build()).run();
        MemoryFootprint.Footprint memory = MemoryFootprint.measure();

        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        String summary = summary(profile, getPut, kill, leases, registryKill, memory,
                Duration.between(start, Instant.now()), loadBefore, loadAfter);
        Files.writeString(out.resolve("memory.md"), render(ps -> MemoryFootprint.print(memory, ps)));
        Files.writeString(out.resolve("summary.md"), summary);
        System.out.println();
        System.out.println(summary);
    }

    private static ChainedOptionsBuilder options(Profile profile, Path out, String name) {
        return new OptionsBuilder()
                .forks(profile.forks)
                .warmupIterations(profile.warmupIterations)
                .warmupTime(profile.warmupTime)
                .measurementIterations(profile.iterations)
                .measurementTime(profile.iterationTime)
                .shouldFailOnError(true)
                .resultFormat(ResultFormatType.JSON)
                .result(out.resolve(name + ".json").toString());
    }

    private static TreeSet<Integer> threadCounts() {
        TreeSet<Integer> counts = new TreeSet<>();
        counts.add(1);
        counts.add(2);
        counts.add(4);
        counts.add(8);
        counts.add(2 * Runtime.getRuntime().availableProcessors());
        return counts;
    }

    private static String method(RunResult r) {
        String benchmark = r.getParams().getBenchmark();
        return benchmark.substring(benchmark.lastIndexOf('.') + 1);
    }

    private static String summary(Profile profile, Map<Integer, Map<String, Result<?>>> getPut,
            Collection<RunResult> kill, Map<Integer, Map<String, Result<?>>> leases,
            Collection<RunResult> registryKill, MemoryFootprint.Footprint memory, Duration elapsed,
            double loadBefore, double loadAfter) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "Profile `%s` (%s), %s, %d CPUs, %s %s; took %d min %d s; "
                        + "load average %.2f before, %.2f after.%n%n",
                profile.name().toLowerCase(Locale.ROOT), profile.jmhFlags(), cpuModel(),
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name"),
                System.getProperty("java.version"), elapsed.toMinutes(), elapsed.toSecondsPart(),
                loadBefore, loadAfter));

        s.append("### get+put pairs on one shared object (ops/us, higher is better)\n\n| threads |");
        for (String[] column : GET_PUT_COLUMNS) {
            s.append(' ').append(column[1]).append(" |");
        }
        s.append(" PercpuRef / AtomicLong | PercpuRef / LongAdder | tryGetLive / get |\n|---:|");
        s.append("---:|".repeat(GET_PUT_COLUMNS.length + 3)).append('\n');
        for (Map.Entry<Integer, Map<String, Result<?>>> row : getPut.entrySet()) {
            Map<String, Result<?>> r = row.getValue();
            s.append("| ").append(row.getKey()).append(" |");
            for (String[] column : GET_PUT_COLUMNS) {
                s.append(' ').append(scoreWithError(r.get(column[0]))).append(" |");
            }
            s.append(' ').append(ratio(r, "percpuRef", "atomicLong"))
                    .append(" | ").append(ratio(r, "percpuRef", "longAdder"))
                    .append(" | ").append(ratio(r, "percpuRefTryGetLive", "percpuRef")).append(" |\n");
        }

        s.append("\n### Kill latency (us, SampleTime; lower is better)\n\n");
        s.append("| transition | samples | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for (String[] row : KILL_ROWS) {
            Optional<Statistics> st = killStatistics(kill, row[0], row[1]);
            s.append("| ").append(row[2]).append(" | ");
            if (st.isEmpty()) {
                s.append("not run | | | | | |\n");
                continue;
            }
            Statistics x = st.get();
            s.append(String.format(Locale.ROOT, "%d | %s | %s | %s | %s | %s |%n", x.getN(),
                    latency(x.getPercentile(50)), latency(x.getPercentile(90)), latency(x.getPercentile(99)),
                    latency(x.getPercentile(99.9)), latency(x.getMax())));
        }

        s.append("\n### Registry: leases against the bare ref (ns per pair and thread, lower is better)\n\n");
        s.append("| threads | raw tryGetLive+put | lease, DISABLED | lease, SIMPLE | DISABLED / raw | SIMPLE / raw |\n");
        s.append("|---:|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<Integer, Map<String, Result<?>>> row : leases.entrySet()) {
            Map<String, Result<?>> r = row.getValue();
            s.append("| ").append(row.getKey()).append(" | ").append(scoreWithError(r.get("rawTryGetLivePut")))
                    .append(" | ").append(scoreWithError(r.get("leaseAcquireClose/DISABLED")))
                    .append(" | ").append(scoreWithError(r.get("leaseAcquireClose/SIMPLE")))
                    .append(" | ").append(ratio(r, "leaseAcquireClose/DISABLED", "rawTryGetLivePut"))
                    .append(" | ").append(ratio(r, "leaseAcquireClose/SIMPLE", "rawTryGetLivePut")).append(" |\n");
        }
        s.append("\n### Registry kill latency (us, SampleTime; " + RegistryBenchmark.HAMMERS
                + " threads leasing; lower is better)\n\n");
        s.append("| transition | confirm listener | samples | p50 | p90 | p99 | p99.9 | max |\n"
                + "|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (String[] row : new String[][] {{"confirm", "confirmKill", "kill -> confirm"},
                {"release", "releaseKill", "kill -> release"}}) {
            for (String listener : new String[] {"none", "user"}) {
                Optional<Statistics> st = registryStatistics(registryKill, row[0], row[1], listener);
                s.append("| ").append(row[2]).append(" | ").append(listener).append(" | ");
                if (st.isEmpty()) {
                    s.append("not run | | | | | |\n");
                    continue;
                }
                Statistics x = st.get();
                s.append(String.format(Locale.ROOT, "%d | %s | %s | %s | %s | %s |%n", x.getN(),
                        latency(x.getPercentile(50)), latency(x.getPercentile(90)), latency(x.getPercentile(99)),
                        latency(x.getPercentile(99.9)), latency(x.getMax())));
            }
        }

        s.append("\n### Memory (JOL, bytes)\n\n").append(render(ps -> MemoryFootprint.print(memory, ps)));

        s.append("\n### Targets\n\n| target | measured | met |\n|---|---:|---|\n");
        target(s, "get+put at 1 thread >= 1.0x AtomicLong", ratioValue(getPut.get(1), "percpuRef", "atomicLong"), 1.0, true);
        target(s, "get+put at 2 threads >= 4.0x AtomicLong", ratioValue(getPut.get(2), "percpuRef", "atomicLong"), 4.0, true);
        target(s, "get+put at 2 threads >= 1.0x LongAdder", ratioValue(getPut.get(2), "percpuRef", "longAdder"), 1.0, true);
        target(s, "get+put at 4 threads >= 1.0x LongAdder", ratioValue(getPut.get(4), "percpuRef", "longAdder"), 1.0, true);
        double worstTryGetLive = getPut.values().stream()
                .mapToDouble(r -> ratioValue(r, "percpuRefTryGetLive", "percpuRef"))
                .min().orElse(Double.NaN);
        target(s, "tryGetLive+put >= 0.9x get+put (worst thread count)", worstTryGetLive, 0.9, true);
        target(s, "kill -> confirm p50 <= 10 us, primitive, 2 threads hammering",
                killStatistics(kill, "confirm", "confirmKill").map(x -> x.getPercentile(50)).orElse(Double.NaN), 10, false);
        Optional<Statistics> registryConfirm = registryStatistics(registryKill, "confirm", "confirmKill", "none");
        target(s, "registry kill -> confirm p50 <= 50 us", registryConfirm.map(x -> x.getPercentile(50)).orElse(Double.NaN), 50, false);
        target(s, "registry kill -> confirm p99 <= 1000 us", registryConfirm.map(x -> x.getPercentile(99)).orElse(Double.NaN), 1000, false);
        target(s, "lease acquire+close (SIMPLE) <= 1.3x raw tryGetLive+put, 1 thread",
                ratioValue(leases.get(1), "leaseAcquireClose/SIMPLE", "rawTryGetLivePut"), 1.3, false);
        MemoryFootprint.Row percpu = memory.rows().get(0);
        target(s, "idle live ref < 256 B", percpu.idleBytes(), MemoryFootprint.IDLE_TARGET_BYTES - 1, false);
        for (MemoryFootprint.Row row : memory.rows()) {
            if (row.object().startsWith("PercpuRef")) {
                target(s, "ref after 2 contending threads <= 512 B (" + row.object() + ")", row.twoThreadBytes(),
                        MemoryFootprint.TWO_THREAD_TARGET_BYTES, false);
            }
        }
        return s.toString();
    }

    private static void target(StringBuilder s, String what, double measured, double bound, boolean atLeast) {
        String met = Double.isNaN(measured) ? "not measured"
                : (atLeast ? measured >= bound : measured <= bound) ? "yes" : "NO";
        s.append(String.format(Locale.ROOT, "| %s | %.2f | %s |%n", what, measured, met));
    }

    private static Optional<Statistics> killStatistics(Collection<RunResult> kill, String benchmark, String method) {
        return kill.stream()
                .filter(r -> method(r).equals(benchmark))
                .findFirst()
                .map(r -> method == null ? r.getPrimaryResult() : r.getSecondaryResults().get(method))
                .map(Result::getStatistics);
    }

    private static Optional<Statistics> registryStatistics(Collection<RunResult> kill, String group, String method,
            String confirmListener) {
        return kill.stream()
                .filter(r -> method(r).equals(group) && confirmListener.equals(r.getParams().getParam("confirmListener")))
                .findFirst()
                .map(r -> r.getSecondaryResults().get(method))
                .map(Result::getStatistics);
    }

    private static String scoreWithError(Result<?> r) {
        if (r == null) {
            return "-";
        }
        double error = r.getScoreError();
        return Double.isNaN(error)
                ? String.format(Locale.ROOT, "%.1f", r.getScore())
                : String.format(Locale.ROOT, "%.1f ± %.1f", r.getScore(), error);
    }

    private static String ratio(Map<String, Result<?>> r, String numerator, String denominator) {
        double v = ratioValue(r, numerator, denominator);
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2fx", v);
    }

    private static double ratioValue(Map<String, Result<?>> r, String numerator, String denominator) {
        if (r == null || r.get(numerator) == null || r.get(denominator) == null) {
            return Double.NaN;
        }
        return r.get(numerator).getScore() / r.get(denominator).getScore();
    }

    private static String latency(double us) {
        return String.format(Locale.ROOT, us < 10 ? "%.2f" : "%.0f", us);
    }

    static String cpuModel() {
        try (Stream<String> lines = Files.lines(Paths.get("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst().orElse(System.getProperty("os.arch"));
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.arch");
        }
    }

    private interface Printer {
        void print(PrintStream out);
    }

    private static String render(Printer printer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            printer.print(ps);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
