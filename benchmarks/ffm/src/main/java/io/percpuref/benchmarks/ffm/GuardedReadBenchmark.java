package io.percpuref.benchmarks.ffm;

import io.percpuref.ffm.ArenaLease;
import io.percpuref.ffm.DrainingArena;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefRegistry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The cost of the lease around a 4 KiB read: {@code guarded} leases a {@link DrainingArena} and
 * reads its 4 KiB segment (512 longs) under the lease; {@code unguarded} reads the same amount from
 * a plain {@link Arena#ofShared()} segment. Two threads share the arena (one per core here), the
 * way readers share an index segment. {@code leakDetection} is the registry's level: {@code SIMPLE}
 * (the default) tracks one lease in 128 with a stack trace, {@code DISABLED} none.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
@State(Scope.Benchmark)
public class GuardedReadBenchmark {

    @Param({"SIMPLE", "DISABLED"})
    public LeakDetection leakDetection;

    private RefRegistry registry;
    private DrainingArena ours;
    private MemorySegment guardedSegment;
    private Arena jdk;
    private MemorySegment unguardedSegment;

    @Setup(Level.Trial)
    public void open() {
        registry = RefRegistry.builder().name("guarded-read").leakDetection(leakDetection).build();
        ours = DrainingArena.open(registry, "guarded");
        guardedSegment = fill(ours.allocate(ArenaCloseBenchmark.BLOCK, 8));
        jdk = Arena.ofShared();
        unguardedSegment = fill(jdk.allocate(ArenaCloseBenchmark.BLOCK, 8));
    }

    private static MemorySegment fill(MemorySegment segment) {
        for (int i = 0; i < ArenaCloseBenchmark.BLOCK / 8; i++) {
            segment.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, i);
        }
        return segment;
    }

    @TearDown(Level.Trial)
    public void close() {
        ours.close();
        jdk.close();
        registry.shutdown(Duration.ofSeconds(10));
    }

    /** acquire(); read 4 KiB; close(). */
    @Benchmark
    public long guarded() {
        try (ArenaLease lease = ours.acquire()) {
            return ArenaCloseBenchmark.sum(guardedSegment);
        }
    }

    /** The same read inside {@code withLease(...)}: the scoped lease, never sampled by leak detection. */
    @Benchmark
    public long scoped() {
        return ours.withLease(() -> ArenaCloseBenchmark.sum(guardedSegment));
    }

    /** read 4 KiB of a plain shared arena. */
    @Benchmark
    public long unguarded() {
        return ArenaCloseBenchmark.sum(unguardedSegment);
    }
}
