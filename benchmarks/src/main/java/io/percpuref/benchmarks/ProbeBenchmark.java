package io.percpuref.benchmarks;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;

/**
 * What it costs a thread to find "its" stripe, the question behind {@code PercpuRef}'s per-thread
 * probe (docs/benchmarks.md, "Stripe probe"). Nanoseconds per lookup, one thread:
 *
 * <ul>
 *   <li>{@code getIdHash}: Fibonacci hash of {@code Thread.getId()} (deprecated from 19, overridable);</li>
 *   <li>{@code threadIdHash}: the same with {@code Thread.threadId()} through a {@code static final}
 *   {@link MethodHandle} (resolved on 19+, {@code getId()} on 17), which the JIT inlines;</li>
 *   <li>{@code threadLocalProbe}: a {@link ThreadLocal} holding a mutable per-thread probe, which is
 *   what lets a thread whose CAS failed move to another stripe (a hash of an id cannot move).</li>
 * </ul>
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ProbeBenchmark -f 3 -wi 3 -w 1s -i 5 -r 1s
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ProbeBenchmark {

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final MethodHandle THREAD_ID = threadId();
    private static final ThreadLocal<int[]> PROBE = ThreadLocal.withInitial(() -> new int[] {0x9E3779B9});

    private static MethodHandle threadId() {
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        try {
            return lookup.findVirtual(Thread.class, "threadId", MethodType.methodType(long.class));
        } catch (ReflectiveOperationException e) {
            try {
                return lookup.findVirtual(Thread.class, "getId", MethodType.methodType(long.class));
            } catch (ReflectiveOperationException impossible) {
                throw new ExceptionInInitializerError(impossible);
            }
        }
    }

    @Benchmark
    @SuppressWarnings("deprecation")
    public int getIdHash() {
        return (int) ((Thread.currentThread().getId() * GOLDEN) >>> 58);
    }

    @Benchmark
    public int threadIdHash() throws Throwable {
        return (int) (((long) THREAD_ID.invokeExact(Thread.currentThread()) * GOLDEN) >>> 58);
    }

    @Benchmark
    public int threadLocalProbe() {
        return PROBE.get()[0] & 63;
    }
}
