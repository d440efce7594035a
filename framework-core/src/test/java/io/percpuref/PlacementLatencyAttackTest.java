package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/**
 * Probe of the get() fast path's worst case: a get that finds another thread's tag runs
 * placeApart, whose multiplier search ({@code PLACEMENT_TRIES} = 2^17 random multipliers, each
 * checked against every known key) runs in the counting thread, outside the lock. With many known
 * keys on a table at its cap the search fails after all 2^17 tries. Measures the slowest single get,
 * in the thread's CPU time (wall time on a busy 2-CPU machine measures the scheduler); since the fix a
 * search tries 4,096 multipliers per table size.
 */
class PlacementLatencyAttackTest {

    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    @Test
    void noSingleGetRunsAMultiMillisecondSearch() throws Exception {
        PercpuRef warm = PercpuRef.builder().name("warm-up").stripes(64).onRelease(r -> { }).build();
        warm.inflate();
        for (int i = 0; i < 200_000; i++) {                  // JIT the fast path first
            warm.get();
            warm.put();
        }
        for (int i = 0; i < 360; i++) {                      // and the search (interpreted, a cold one takes ms)
            Thread t = new Thread(() -> {
                for (int k = 0; k < 3; k++) {
                    warm.get();
                    warm.put();
                }
            });
            t.start();
            t.join();
        }
        java.util.List<String> slow = new java.util.concurrent.CopyOnWriteArrayList<>();
        PercpuRef ref = PercpuRef.builder().name("latency").stripes(64).onRelease(r -> { }).build();
        ref.inflate();
        AtomicLong worst = new AtomicLong();
        for (int i = 0; i < 120; i++) {                      // each new thread may collide and search
            Thread t = new Thread(() -> {
                for (int k = 0; k < 3; k++) {
                    long start = CPU.getCurrentThreadCpuTime();   // CPU time: not the scheduler's delays on 2 cores
                    ref.get();
                    long took = CPU.getCurrentThreadCpuTime() - start;
                    worst.accumulateAndGet(took, Math::max);
                    if (took > 1_000_000) {
                        slow.add(String.format("thread %d get %d: %.1f ms (table %d)", Thread.currentThread().getId(), k,
                                took / 1e6, ref.tableStripes()));
                    }
                    ref.put();
                }
            });
            t.start();
            t.join();
        }
        assertThat(worst.get() / 1_000_000.0).as("slowest single get(), ms; gets above 1 ms: %s", slow).isLessThan(5.0);
    }
}
