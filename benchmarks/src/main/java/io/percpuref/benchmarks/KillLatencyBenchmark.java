package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Latency of the lifecycle transitions of a ref that other threads are using: kill to confirm,
 * kill to release, and a kill + resurrect round trip.
 *
 * <p>Each {@code @Group} runs one measuring thread and {@value #HAMMERS} hammering threads on the
 * same ref. A hammer loops {@code tryGetLive(); <short hold>; put()}, so it stops taking references
 * as soon as the ref is dying and keeps a reference in flight most of the time. Only the
 * measuring thread's samples matter ({@code confirm:confirmKill}, {@code release:releaseKill},
 * {@code resurrect:roundTrip}); the hammers' own samples are a by-product of the group.
 *
 * <p>For {@code confirm} and {@code release}, a per-invocation setup (JMH timestamps every
 * invocation and excludes the setup) brings the ref back to life with {@code resurrect()} and
 * waits until every hammer has completed {@value #ARM_PAIRS} pairs in the new life, so each
 * sampled kill hits a live ref whose stripes are in use. The wait is bounded by
 * {@link #ARM_TIMEOUT_NANOS}: at the end of an iteration the hammers stop first, and the last
 * kill or two of an iteration may then run with fewer hammers.
 *
 * <p>The confirm callback runs inline in {@code kill()} (no callback executor), so kill to confirm
 * is the cost of marking the ref dying and sealing every stripe. Kill to release adds the wait for
 * the hammers' in-flight references. On a machine with fewer cores than the group has threads, a
 * hammer descheduled while holding a reference delays release by a scheduler time slice; that
 * shows in the tail, which is why the table reports percentiles and not a mean.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class KillLatencyBenchmark {

    /** Threads hammering the ref in each group. */
    static final int HAMMERS = 2;
    /** Pairs each hammer completes in the new life before a kill is sampled. */
    static final long ARM_PAIRS = 100;
    /** Upper bound on the wait for the hammers, so the end of an iteration cannot hang it. */
    static final long ARM_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** Work done while holding a reference ({@link Blackhole#consumeCPU} tokens, some tens of ns). */
    static final long HOLD_TOKENS = 16;
    /** Kills of an inflated scratch ref before the first sample, to get the kill path compiled. */
    static final int WARM_UP_KILLS = 20_000;
    /** Longs between two hammers' progress counters: 128 bytes, so they never share a cache line. */
    private static final int PAD = 16;
    /** Busy-spins before a waiting thread starts yielding its core to the threads it waits for. */
    private static final int SPINS_BEFORE_YIELD = 1_000;

    /** The ref shared by one group, with flags its callbacks raise. */
    @State(Scope.Group)
    public static class Target {
        /** allowReinit, so one ref serves every sampled kill; default stripes. */
        PercpuRef ref;
        /** Set by the confirm callback; cleared before each sampled kill. */
        volatile boolean confirmed;
        /** Set by the release callback; cleared before each sampled kill. */
        volatile boolean released;
        /** Pairs completed by hammer i, at index {@code (i + 1) * PAD}; written only by that hammer. */
        final AtomicLongArray progress = new AtomicLongArray((HAMMERS + 1) * PAD);
        /** Hands out hammer indexes. */
        final AtomicInteger hammers = new AtomicInteger();

        @Setup(Level.Trial)
        public void build() throws InterruptedException {
            warmUpKill(newRef("kill-latency-warm-up"));
            confirmed = false;
            released = false;
            ref = newRef("kill-latency");
        }

        private PercpuRef newRef(String name) {
            return PercpuRef.builder()
                    .name(name)
                    .allowReinit()
                    .onConfirmKill(r -> confirmed = true)
                    .onRelease(r -> released = true)
                    .build();
        }
    }

    /** A hammering thread's index and pair count. */
    @State(Scope.Thread)
    public static class Hammer {
        int slot;
        long pairs;

        @Setup(Level.Trial)
        public void join(Target target) {
            int index = target.hammers.getAndIncrement();
            if (index >= HAMMERS) {
                throw new IllegalStateException("more hammers than " + HAMMERS + " in one group");
            }
            slot = (index + 1) * PAD;
        }
    }

    /** The measuring thread's per-invocation setup: a live, hammered ref and cleared flags. */
    @State(Scope.Thread)
    public static class Killer {
        private final long[] seen = new long[HAMMERS];

        @Setup(Level.Invocation)
        public void arm(Target target) {
            PercpuRef ref = target.ref;
            if (ref.isDying()) {
                ref.resurrect();
            }
            target.confirmed = false;
            target.released = false;
            for (int i = 0; i < HAMMERS; i++) {
                seen[i] = target.progress.get((i + 1) * PAD);
            }
            long deadline = System.nanoTime() + ARM_TIMEOUT_NANOS;
            for (int i = 0; i < HAMMERS && System.nanoTime() < deadline; ) {
                if (target.progress.get((i + 1) * PAD) - seen[i] >= ARM_PAIRS) {
                    i++;
                } else {
                    Thread.yield();
                }
            }
        }
    }

    /** A ref nobody else uses, with one extra reference held so that a kill leaves it dying. */
    @State(Scope.Thread)
    public static class Idle {
        PercpuRef ref;

        @Setup(Level.Trial)
        public void build() {
            ref = PercpuRef.builder().name("kill-resurrect-idle").allowReinit().onRelease(r -> { }).build();
            ref.get();
        }
    }

    /** kill() until the confirm callback has run, while the hammers use the ref. */
    @Benchmark
    @Group("confirm")
    @GroupThreads(1)
    public void confirmKill(Target target, Killer killer) {
        target.ref.kill();
        while (!target.confirmed) {
            Thread.onSpinWait();
        }
    }

    @Benchmark
    @Group("confirm")
    @GroupThreads(HAMMERS)
    public boolean confirmHammer(Target target, Hammer hammer) {
        return hammer(target, hammer);
    }

    /** kill() until the release callback has run, i.e. until the last in-flight holder put. */
    @Benchmark
    @Group("release")
    @GroupThreads(1)
    public void releaseKill(Target target, Killer killer) {
        target.ref.kill();
        awaitRelease(target);
    }

    @Benchmark
    @Group("release")
    @GroupThreads(HAMMERS)
    public boolean releaseHammer(Target target, Hammer hammer) {
        return hammer(target, hammer);
    }

    /** kill(); resurrect(); while the hammers use the ref (their references keep it dying, not released). */
    @Benchmark
    @Group("resurrect")
    @GroupThreads(1)
    public void roundTrip(Target target) {
        PercpuRef ref = target.ref;
        ref.kill();
        ref.resurrect();
    }

    @Benchmark
    @Group("resurrect")
    @GroupThreads(HAMMERS)
    public boolean roundTripHammer(Target target, Hammer hammer) {
        return hammer(target, hammer);
    }

    /** kill(); resurrect(); on a ref no other thread touches (never inflated: only the base slot is sealed). */
    @Benchmark
    public void roundTripIdle(Idle idle) {
        PercpuRef ref = idle.ref;
        ref.kill();
        ref.resurrect();
    }

    /**
     * Inflates {@code scratch} and kills and resurrects it {@value #WARM_UP_KILLS} times, so that
     * the sampled kills run compiled code. A sampled kill waits for the hammers first, so on a
     * loaded machine a fork may sample only some hundred kills per second, too few for the JIT:
     * without this, such a run measures the interpreter (tens of microseconds per kill, most of it
     * in interpreted VarHandle calls). The first kills in a real application do run that way; see
     * docs/benchmarks.md.
     */
    private static void warmUpKill(PercpuRef scratch) throws InterruptedException {
        Contention.run(() -> {
            scratch.get();
            scratch.put();
        }, HAMMERS, 50);
        for (int i = 0; i < WARM_UP_KILLS; i++) {
            scratch.kill();
            scratch.resurrect();
        }
    }

    private static boolean hammer(Target target, Hammer hammer) {
        PercpuRef ref = target.ref;
        if (!ref.tryGetLive()) {
            return false;
        }
        Blackhole.consumeCPU(HOLD_TOKENS);
        ref.put();
        // release store (lazySet): the progress report the killer polls; a plain store on x86
        target.progress.lazySet(hammer.slot, ++hammer.pairs);
        return true;
    }

    private static void awaitRelease(Target target) {
        for (int spins = 0; !target.released; spins++) {
            if (spins < SPINS_BEFORE_YIELD) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }
}
