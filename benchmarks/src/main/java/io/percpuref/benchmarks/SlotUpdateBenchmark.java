package io.percpuref.benchmarks;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The fast path's one atomic read-modify-write, two ways, on a slot with {@code PercpuRef}'s
 * encoding (steps of 2, low bit = sealed): a get+put pair as
 * <ul>
 *   <li>{@code cas*}: load, test the seal bit, {@code compareAndSet(v, v + 2)} ({@code lock cmpxchg}),
 *   what {@code PercpuRef} does on {@code base} before it inflates (a lost CAS is the contention
 *   signal);</li>
 *   <li>{@code xadd*}: {@code getAndAdd(2)} ({@code lock xadd}), test the seal bit of the old value,
 *   what {@code PercpuRef} does on a stripe (an odd old value means sealed: the add is garbage that
 *   the unseal overwrites; see docs/benchmarks.md, "getAndAdd or load + CAS").</li>
 * </ul>
 * {@code *Own}: each thread its own padded slot (per-CPU mode without collisions, the case that
 * matters); {@code *Shared}: all threads one slot (a collision that nobody resolves). ns per pair.
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar SlotUpdateBenchmark -t 1 -f 3 -wi 3 -w 1s -i 5 -r 1s   # and -t 2
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SlotUpdateBenchmark {

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    /** The slot sits in the middle of 128 bytes of its own. */
    private static final int INDEX = 8;
    private static final long SEAL = 1;

    /** One padded slot per thread. */
    @State(Scope.Thread)
    public static class Own {
        final long[] slot = new long[2 * INDEX];
    }

    /** One padded slot for all threads. */
    @State(Scope.Benchmark)
    public static class Shared {
        final long[] slot = new long[2 * INDEX];
    }

    @Benchmark
    public boolean casOwn(Own s) {
        return cas(s.slot, 2) & cas(s.slot, -2);
    }

    @Benchmark
    public boolean xaddOwn(Own s) {
        return xadd(s.slot, 2) & xadd(s.slot, -2);
    }

    @Benchmark
    public boolean casShared(Shared s) {
        return cas(s.slot, 2) & cas(s.slot, -2);
    }

    @Benchmark
    public boolean xaddShared(Shared s) {
        return xadd(s.slot, 2) & xadd(s.slot, -2);
    }

    private static boolean cas(long[] slot, long twiceDelta) {
        for (;;) {
            long v = (long) SLOT.getVolatile(slot, INDEX);
            if ((v & SEAL) != 0) {
                return false;
            }
            if (SLOT.compareAndSet(slot, INDEX, v, v + twiceDelta)) {
                return true;
            }
        }
    }

    private static boolean xadd(long[] slot, long twiceDelta) {
        // sealed if odd: the add is garbage the unseal overwrites (never happens here)
        return (((long) SLOT.getAndAdd(slot, INDEX, twiceDelta)) & SEAL) == 0;
    }
}
