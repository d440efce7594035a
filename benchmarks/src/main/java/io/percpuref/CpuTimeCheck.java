package io.percpuref;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Locale;

/**
 * A load-independent cross-check of the single-thread cost of a get+put pair, for when the machine
 * is shared and JMH throughput means little: the calling thread's CPU time (not wall time) for 20
 * million pairs, median of 7 rounds. Not a JMH benchmark and not a test: a measuring aid, in package
 * {@code io.percpuref} to reach the ref's package-private hooks ({@code inflate()}, {@code collided()}).
 *
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar io.percpuref.CpuTimeCheck base       # uninflated ref (one thread)
 *   java -cp benchmarks/target/benchmarks.jar io.percpuref.CpuTimeCheck inflated   # stripe table, home stripe
 *   java -cp benchmarks/target/benchmarks.jar io.percpuref.CpuTimeCheck crowded    # stripe table, after a collision (probe)
 * </pre>
 */
public final class CpuTimeCheck {

    private static final int PAIRS = 20_000_000;
    private static final int ROUNDS = 7;

    private CpuTimeCheck() {
    }

    public static void main(String[] args) {
        String mode = args.length > 0 ? args[0] : "inflated";
        PercpuRef ref = PercpuRef.builder().name("cpu-time").stripes(4).onRelease(r -> { }).build();
        switch (mode) {
            case "base" -> { }
            case "inflated" -> ref.inflate();
            case "crowded" -> {
                ref.inflate();
                ref.collided(1);
            }
            default -> throw new IllegalArgumentException("mode: base, inflated or crowded, was " + mode);
        }
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[] nanosPerPair = new double[ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            long start = mx.getCurrentThreadCpuTime();
            for (int i = 0; i < PAIRS; i++) {
                ref.get();
                ref.put();
            }
            nanosPerPair[round] = (mx.getCurrentThreadCpuTime() - start) / (double) PAIRS;
        }
        Arrays.sort(nanosPerPair);
        System.out.printf(Locale.ROOT, "%s: %.2f ns CPU per get+put pair (median of %d rounds of %,d; min %.2f)%n",
                mode, nanosPerPair[ROUNDS / 2], ROUNDS, PAIRS, nanosPerPair[0]);
    }
}
