package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * What a registry {@link Lease} costs over the bare reference it wraps: {@code acquire(); close();}
 * on a live {@link ManagedResource} against {@code tryGetLive(); put();} on a {@link PercpuRef},
 * both on one shared object from 2 threads (override with {@code -t}).
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar 'LeaseBenchmark' -p leakDetection=DISABLED,SIMPLE -f 3 -wi 3 -w 1s -i 5 -r 1s
 *   java -jar benchmarks/target/benchmarks.jar 'LeaseBenchmark.leaseAcquireClose' -p leakDetection=PARANOID -t 1 -prof gc
 * </pre>
 *
 * <p>With leak detection {@link LeakDetection#DISABLED} the lease adds nothing measurable: it is
 * closed by the thread that acquired it, whose close makes no CAS on the lease, so the JIT
 * scalar-replaces it ({@code -prof gc}: 0 B/op; target at most 1.3x the bare pair). With
 * {@link LeakDetection#SIMPLE}, one thread-local random draw per acquire, and a stack trace and a
 * phantom reference for one lease in 128; the tracked lease's allocation site merges with the
 * untracked one, so the untracked lease is allocated again (24 bytes). {@link LeakDetection#PARANOID}
 * tracks every lease, which shows what one tracked lease costs. Nothing registry-wide is touched.
 * Scores are nanoseconds per
 * pair, per thread; docs/registry.md quotes a run.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class LeaseBenchmark {

    /**
     * A live bare ref. The trial ends with a kill that must release it at once: a lost or
     * double-counted reference fails the trial.
     */
    @State(Scope.Benchmark)
    public static class BareRef {
        PercpuRef ref;

        @Setup
        public void build() {
            ref = PercpuRef.builder().name("bare").onRelease(r -> { }).build();
        }

        @TearDown
        public void killAndCheck() {
            ref.kill();
            if (!ref.isZero()) {
                throw new IllegalStateException("references were lost or double-counted: " + ref);
            }
        }
    }

    /**
     * A registry with one live resource. The trial ends with a shutdown that must be clean: a lease
     * that was not put exactly once fails the trial.
     */
    @State(Scope.Benchmark)
    public static class Registry {
        /** Leak detection of the registry; SIMPLE is the default a user gets, PARANOID shows the cost of one tracked lease. */
        @Param({"DISABLED", "SIMPLE", "PARANOID"})
        LeakDetection leakDetection;

        RefRegistry registry;
        ManagedResource<Object> resource;

        @Setup
        public void build() {
            registry = RefRegistry.builder().leakDetection(leakDetection).build();
            resource = registry.register("leased", new Object(), r -> { });
        }

        @TearDown
        public void shutDownAndCheck() {
            ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));
            if (!report.isClean()) {
                throw new IllegalStateException("leases were lost or double-closed: " + report);
            }
        }
    }

    /** {@code tryGetLive(); put();}: the bare cost of a reference on a live ref. */
    @Benchmark
    public boolean bareTryGetLivePut(BareRef s) {
        PercpuRef ref = s.ref;
        if (ref.tryGetLive()) {
            ref.put();
            return true;
        }
        return false;
    }

    /** {@code try (Lease l = resource.acquire()) { l.resource(); }}. */
    @Benchmark
    public Object leaseAcquireClose(Registry s) {
        try (Lease<Object> lease = s.resource.acquire()) {
            return lease.resource();
        }
    }
}
