package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The framework path against the primitive it wraps.
 *
 * <p><b>Leases</b> ({@code lease*}, {@code raw*}; AverageTime, ns per pair and thread; run with
 * {@code -t 1} and {@code -t 2}): {@code try (Lease l = resource.acquire()) {...}} on a live
 * {@link ManagedResource} against {@code tryGetLive(); put();} on a bare {@link PercpuRef}, one
 * shared object. Leak detection DISABLED (the bound) and SIMPLE (the default, one lease in 128
 * tracked).
 *
 * <p><b>Kill latency</b> ({@code confirm:*}, {@code release:*}; SampleTime, µs): a registry resource
 * that {@value #HAMMERS} threads keep leasing ({@code tryAcquire(); <some tens of ns>; close()}) is
 * killed, and the sample is {@code kill()} until its confirm stage completed, or until its
 * {@code released()} stage completed (the last lease closed and the release action ran on the
 * registry's callback executor). A per-invocation setup, excluded from the sample, registers a fresh
 * resource and waits until every hammer has leased it {@value #ARM_LEASES} times. With
 * {@code confirmListener=none} the confirm is the registry's own bookkeeping and runs in the killing
 * thread; {@code confirmListener=user} adds a listener with its own {@code onConfirmed}, which must
 * run on the callback executor: the thread hop every registry kill took before.
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar 'RegistryBenchmark\.(lease|raw)' -t 1 -f 3 -wi 3 -w 1s -i 5 -r 1s
 *   java -jar benchmarks/target/benchmarks.jar 'RegistryBenchmark\.(confirm|release)' -f 3 -wi 3 -w 1s -i 5 -r 1s
 *   # experiment: the release the killer's own put triggers run in the killer, no pool thread woken
 *   java -jar benchmarks/target/benchmarks.jar 'RegistryBenchmark\.confirm' -p confirmListener=none \
 *       -p callbackExecutor=pool,direct -f 2 -wi 3 -w 1s -i 5 -r 1s
 * </pre>
 */
public class RegistryBenchmark {

    /** Threads leasing the resource while it is killed. */
    static final int HAMMERS = 2;
    /** Leases each hammer completes on a fresh resource before its kill is sampled. */
    static final int ARM_LEASES = 100;
    /** Work done while holding a lease ({@link Blackhole#consumeCPU} tokens, some tens of ns). */
    static final int HOLD_TOKENS = 20;
    /** How long a setup waits for the hammers before sampling anyway (end of an iteration). */
    static final long ARM_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** Kills in the trial setup, before any sample, to get the kill path compiled. */
    static final int WARM_UP_KILLS = 20_000;
    /** Padding between the hammers' lease counters, in longs. */
    static final int PAD = 16;

    // ------------------------------------------------------------------------------------------
    // Leases against the bare ref
    // ------------------------------------------------------------------------------------------

    /** A live bare ref; the trial ends with a kill that must release it at once. */
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

    /** A registry with one live resource; the trial ends with a shutdown that must be clean. */
    @State(Scope.Benchmark)
    public static class Leased {
        @Param({"DISABLED", "SIMPLE"})
        LeakDetection leakDetection;

        RefRegistry registry;
        ManagedResource<Object> resource;

        @Setup
        public void build() {
            registry = RefRegistry.builder().name("leases").leakDetection(leakDetection).build();
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

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public boolean rawTryGetLivePut(BareRef s) {
        PercpuRef ref = s.ref;
        if (ref.tryGetLive()) {
            ref.put();
            return true;
        }
        return false;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public Object leaseAcquireClose(Leased s) {
        try (Lease<Object> lease = s.resource.acquire()) {
            return lease.resource();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Kill latency
    // ------------------------------------------------------------------------------------------

    /** The registry and the resource the group's threads lease and kill. */
    @State(Scope.Group)
    public static class Target {
        /** none: confirm is bookkeeping (inline); user: a listener's onConfirmed (on the executor). */
        @Param({"none", "user"})
        String confirmListener;

        /**
         * pool: the registry's own callback pool (the default). direct: {@code Runnable::run}, so the
         * release that the killer's own put triggers (the hammers' leases are gone by then) runs
         * in the killer instead of waking a pool thread: an experiment that shows what that
         * hand-off costs (docs/benchmarks.md, "What a kill still costs").
         */
        @Param({"pool"})
        String callbackExecutor;

        RefRegistry registry;
        /** The resource of the current round; replaced by the killer's setup. */
        volatile ManagedResource<Object> resource;
        /** Leases completed on the current resource by hammer i, at index {@code (i + 1) * PAD}; one writer each. */
        final AtomicLongArray leased = new AtomicLongArray((HAMMERS + 2) * PAD);
        final AtomicLong rounds = new AtomicLong();
        final AtomicLong hammerIds = new AtomicLong();

        @Setup(Level.Trial)
        public void build() {
            RefRegistry.Builder builder = RefRegistry.builder().name("kill-latency");
            if ("direct".equals(callbackExecutor)) {
                builder.callbackExecutor(Runnable::run);
            }
            registry = builder.build();
            if ("user".equals(confirmListener)) {
                registry.addListener(new RefListener() {
                    @Override
                    public void onConfirmed(RefInfo info) {
                        // user code: keeps the confirm on the callback executor
                    }
                });
            }
            warmUpKill(registry);
            resource = registry.register("round-0", new Object(), r -> { });
        }

        /**
         * Registers and kills {@value #WARM_UP_KILLS} resources, half of them with a lease open at
         * the kill, so that the sampled kills run compiled code: a kill is sampled only some hundred
         * times per iteration, far too few for the JIT (interpreted, a registry kill took 100 to
         * 300 us here; see "Cold kills" in docs/benchmarks.md for the primitive).
         */
        private static void warmUpKill(RefRegistry registry) {
            for (int i = 0; i < WARM_UP_KILLS; i++) {
                ManagedResource<Object> r = registry.register("warm-up-" + i, new Object(), x -> { });
                Lease<Object> open = i % 2 == 0 ? r.acquire() : null;
                r.kill().toCompletableFuture().join();
                if (open != null) {
                    open.close();
                }
                r.released().toCompletableFuture().join();
            }
        }

        @TearDown(Level.Trial)
        public void shutDown() {
            ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));
            if (!report.isClean()) {
                throw new IllegalStateException("leases were lost or double-closed: " + report);
            }
        }
    }

    /** A hammer's index into {@link Target#leased}. */
    @State(Scope.Thread)
    public static class Hammer {
        int slot;

        @Setup(Level.Trial)
        public void join(Target target) {
            slot = (int) (target.hammerIds.getAndIncrement() % HAMMERS + 1) * PAD;
        }
    }

    /** Registers a fresh resource before each sampled kill and waits until the hammers use it. */
    @State(Scope.Thread)
    public static class Killer {
        @Setup(Level.Invocation)
        public void arm(Target target) {
            for (int i = 1; i <= HAMMERS; i++) {
                target.leased.set(i * PAD, 0); // racy reset: a lost one only shortens the wait
            }
            target.resource = target.registry.register("round-" + target.rounds.incrementAndGet(), new Object(), r -> { });
            long deadline = System.nanoTime() + ARM_TIMEOUT_NANOS;
            for (int i = 1; i <= HAMMERS; i++) {
                while (target.leased.get(i * PAD) < ARM_LEASES && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
            }
        }
    }

    /** kill() until the kill is confirmed. */
    @Benchmark
    @Group("confirm")
    @GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void confirmKill(Target target, Killer killer) {
        target.resource.kill().toCompletableFuture().join();
    }

    @Benchmark
    @Group("confirm")
    @GroupThreads(HAMMERS)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void confirmHammer(Target target, Hammer hammer) {
        lease(target, hammer);
    }

    /** kill() until the release action has run and the resource left the registry. */
    @Benchmark
    @Group("release")
    @GroupThreads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void releaseKill(Target target, Killer killer) {
        ManagedResource<Object> r = target.resource;
        r.kill();
        r.released().toCompletableFuture().join();
    }

    @Benchmark
    @Group("release")
    @GroupThreads(HAMMERS)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void releaseHammer(Target target, Hammer hammer) {
        lease(target, hammer);
    }

    private static void lease(Target target, Hammer hammer) {
        Optional<Lease<Object>> lease = target.resource.tryAcquire();
        if (lease.isPresent()) {
            try (Lease<Object> l = lease.get()) {
                Blackhole.consumeCPU(HOLD_TOKENS);
            }
            target.leased.lazySet(hammer.slot, target.leased.get(hammer.slot) + 1);
        } else {
            Thread.onSpinWait(); // killed: wait for the next round's resource
        }
    }
}
