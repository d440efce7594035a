package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.GraphLayout;

/**
 * Bytes per ref (JOL, everything reachable from the ref minus the shared release callback), against
 * the targets of the performance issue: an idle ref with its name under 256 B, a ref that two
 * threads counted on at most 512 B at any stripe cap. {@code MemoryFootprint} in benchmarks/ prints
 * the same figures next to the alternatives.
 */
class PercpuRefFootprintTest {

    private static final Consumer<PercpuRef> NO_OP = r -> { };
    private static final GraphLayout SHARED = GraphLayout.parseInstance(NO_OP);
    /** 13 characters, as in the benchmark's figures: "aio-ctx-00042". */
    private static final String NAME = "aio-ctx-00042";

    private static long bytes(PercpuRef ref) {
        return GraphLayout.parseInstance(ref).subtract(SHARED).totalSize();
    }

    private static long nameBytes() {
        return GraphLayout.parseInstance(new String(NAME.toCharArray())).totalSize();
    }

    @Test
    void anIdleRefIsItsObjectAndItsNameOnly() {
        PercpuRef ref = PercpuRef.builder().name(NAME).onRelease(NO_OP).build();
        ref.get();
        ref.put();
        // no lock, no table, no callback holder until something needs one
        assertThat(bytes(ref) - nameBytes()).as("ref object alone").isLessThanOrEqualTo(56);
        assertThat(bytes(ref)).as("idle ref with its name").isLessThan(256);
    }

    @Test
    void aRefTwoThreadsCountedOnTakesAtMost512BytesAtAnyCap() throws Exception {
        for (int cap = 2; cap <= 64; cap <<= 1) {
            PercpuRef ref = PercpuRef.builder().name(NAME).onRelease(NO_OP).stripes(cap).build();
            ExecutorService a = Executors.newSingleThreadExecutor();
            ExecutorService b = Executors.newSingleThreadExecutor();
            try {
                run(a, () -> count(ref)).get(); // a owns base
                // b loses a CAS on base to a: the first table, placed so that a and b count apart
                run(b, () -> PercpuRefTestAccess.inflate(ref)).get();
                Future<?> fa = run(a, () -> count(ref));
                Future<?> fb = run(b, () -> count(ref));
                fa.get();
                fb.get();
            } finally {
                a.shutdown();
                b.shutdown();
            }
            assertThat(PercpuRefTestAccess.tableStripes(ref)).as("cap %d", cap).isEqualTo(2);
            assertThat(bytes(ref)).as("cap %d: %s", cap, GraphLayout.parseInstance(ref).toFootprint())
                    .isLessThanOrEqualTo(512);
            assertThat(ref.approximateCount()).isEqualTo(1);
        }
    }

    @Test
    void aKilledRefMakesItsLockAndStillReleases() {
        PercpuRef ref = PercpuRef.builder().name(NAME).onRelease(NO_OP).build();
        long idle = bytes(ref);
        ref.kill().toCompletableFuture().join();
        assertThat(ref.isZero()).isTrue();
        assertThat(ref.released().toCompletableFuture().isDone()).isTrue();
        assertThat(bytes(ref)).as("the lock and the released stage are made by the kill").isGreaterThan(idle);
    }

    private static Future<?> run(ExecutorService thread, Runnable task) {
        return thread.submit(task);
    }

    private static void count(PercpuRef ref) {
        for (int i = 0; i < 10_000; i++) {
            ref.get();
            ref.put();
        }
    }
}
