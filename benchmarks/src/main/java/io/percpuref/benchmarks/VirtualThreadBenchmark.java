package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * get+put pairs from many short-lived <b>virtual threads</b> on one shared object: each invocation
 * starts {@value #TASKS} virtual threads that each run {@value #PAIRS} pairs, and waits for them.
 * Scores are ns per pair (all pairs of an invocation, including starting and joining the threads,
 * which is the same for every alternative). A virtual thread's id says nothing about its carrier;
 * {@code PercpuRef} gives each virtual thread its own probe at its first update of an inflated ref
 * and moves it on a collision, so what matters is how many are mounted at once (at most the
 * scheduler's parallelism, {@code -Djdk.virtualThreadScheduler.parallelism}).
 *
 * <p>Needs Java 21 or later (virtual threads are looked up reflectively so that the module still
 * builds for 17); on 17 the setup fails with a message.
 *
 * <pre>
 *   /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar benchmarks/target/benchmarks.jar VirtualThreadBenchmark -f 3 -wi 3 -w 1s -i 5 -r 1s
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class VirtualThreadBenchmark {

    static final int TASKS = 256;
    static final int PAIRS = 1_000;
    private static final MethodHandle NEW_VIRTUAL_EXECUTOR = virtualExecutorFactory();

    private static MethodHandle virtualExecutorFactory() {
        try {
            return MethodHandles.publicLookup().findStatic(java.util.concurrent.Executors.class,
                    "newVirtualThreadPerTaskExecutor", MethodType.methodType(ExecutorService.class));
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    /** The objects counted on, one of each, and the virtual-thread executor. */
    @State(Scope.Benchmark)
    public static class Shared {
        /** Which object the virtual threads count on. */
        @Param({"percpuRef", "atomicLong", "longAdder"})
        String counter;

        ExecutorService executor;
        PercpuRef ref;
        AtomicLongRefCount atomic;
        LongAdder adder;
        Runnable pairs;

        @Setup
        public void build() throws Throwable {
            if (NEW_VIRTUAL_EXECUTOR == null) {
                throw new IllegalStateException("VirtualThreadBenchmark needs Java 21 or later, this is "
                        + Runtime.version());
            }
            executor = (ExecutorService) NEW_VIRTUAL_EXECUTOR.invokeExact();
            ref = PercpuRef.builder().name("virtual").onRelease(r -> { }).build();
            atomic = new AtomicLongRefCount(() -> { });
            adder = new LongAdder();
            pairs = switch (counter) {
                case "percpuRef" -> () -> {
                    for (int i = 0; i < PAIRS; i++) {
                        ref.get();
                        ref.put();
                    }
                };
                case "atomicLong" -> () -> {
                    for (int i = 0; i < PAIRS; i++) {
                        atomic.get();
                        atomic.put();
                    }
                };
                case "longAdder" -> () -> {
                    for (int i = 0; i < PAIRS; i++) {
                        adder.increment();
                        adder.decrement();
                    }
                };
                default -> throw new IllegalArgumentException(counter);
            };
        }

        @TearDown
        public void killAndCheck() {
            executor.shutdown();
            ref.kill();
            if (!ref.isZero()) {
                throw new IllegalStateException("references were lost or double-counted: " + ref);
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(TASKS * PAIRS)
    public void pairsOnVirtualThreads(Shared s) throws Exception {
        Future<?>[] running = new Future<?>[TASKS];
        for (int i = 0; i < TASKS; i++) {
            running[i] = s.executor.submit(s.pairs);
        }
        for (Future<?> f : running) {
            f.get();
        }
    }
}
