package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.openjdk.jol.info.ClassLayout;
import org.openjdk.jol.info.FieldLayout;
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
    private static final Set<String> HOT = Set.of("count", "base", "baseOwner", "state", "stripes");

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
        assertThat(bytes(ref) - nameBytes()).as("ref object alone").isLessThanOrEqualTo(96);
        assertThat(bytes(ref)).as("idle ref with its name").isLessThan(256);
    }

    /**
     * Two refs allocated one after the other: the fields every get/put touches (count, base, the
     * base owner, state, stripes) of one are at least a cache line (64 bytes) from those of the
     * other, whatever their alignment, so threads counting each on a ref of their own do not share
     * a line. Runs on JDK 17 and 25 (the field layout is the JVM's).
     */
    @Test
    void theFieldsEveryGetAndPutTouchesStayACacheLineFromTheNextRefs() {
        ClassLayout layout = ClassLayout.parseClass(PercpuRef.class);
        long first = Long.MAX_VALUE;
        long end = 0;
        for (FieldLayout field : layout.fields()) {
            if (HOT.contains(field.name())) {
                first = Math.min(first, field.offset());
                end = Math.max(end, field.offset() + field.size());
            }
        }
        assertThat(first).as(layout.toPrintable()).isNotEqualTo(Long.MAX_VALUE);
        long size = layout.instanceSize();
        // the next ref's hot fields start at size + first; ours end at end
        assertThat(size + first - end).as(layout.toPrintable()).isGreaterThanOrEqualTo(64);
        assertThat(size).as("ref object").isLessThanOrEqualTo(96);
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
