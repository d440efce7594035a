package io.percpuref.benchmarks.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.ffm.ArenaLease;
import io.percpuref.ffm.DrainingArena;
import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefRegistry;
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
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Latency of closing a shared arena while {@value #READERS} other threads read from it: ours
 * ({@link DrainingArena}) against the JDK's {@link Arena#ofShared()}.
 *
 * <p>Each {@code @Group} runs one measuring thread and {@value #READERS} readers. A reader reads a
 * 4 KiB block of the arena that is current now (ours under a lease; the JDK's directly, catching
 * the {@link IllegalStateException} of a closed arena), again and again. Before each sampled close
 * a per-invocation setup (excluded from the timing) opens a new arena, publishes it, and waits
 * until every reader has completed {@value #ARM_READS} reads of it, so every close hits an arena
 * in use.
 * <ul>
 *   <li>{@code ourClose}: {@code close()} returning (the kill; never waits, never throws);</li>
 *   <li>{@code ourCloseHeld}: {@code close()} returning while the closing thread itself holds a
 *       lease (taken in the setup, closed in the per-invocation teardown, both untimed), so the
 *       kill's own put of the initial reference is never the last one and {@code close()} never
 *       hands the release to the callback executor: an experiment that shows what that hand-off
 *       (waking a pool thread) adds to {@code ourClose} (docs/ffm.md);</li>
 *   <li>{@code ourCloseTry}: {@code ourClose} with readers that lease by {@code tryAcquire()}, so a
 *       refused lease after the close is an empty {@code Optional} instead of an exception: an
 *       experiment that shows whether the readers' exceptions slow the close (docs/ffm.md: they do
 *       not);</li>
 *   <li>{@code ourConfirm}: {@code kill()} until its confirm stage completed (a callback-executor
 *       hand-off);</li>
 *   <li>{@code ourFreed}: {@code close()} until {@code freed()} completed: the readers' last
 *       leases closed, then the JDK's own close ran on the callback executor;</li>
 *   <li>{@code jdkClose}: {@code Arena.close()} of a plain shared arena, retried until it does not
 *       throw, as users must (it throws while a session is acquired; plain reads do not acquire it,
 *       so here it succeeds at the first try and the time is the JDK's handshake).</li>
 * </ul>
 * Only the measuring thread's samples matter ({@code <group>:close}); the readers' are a by-product.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ArenaCloseBenchmark {

    static final int READERS = 2;
    /** Closes in the trial setup, before any sample, to get the close path compiled. */
    static final int WARM_UP_CLOSES = 20_000;
    static final int BLOCK = 4096;
    /** Reads each reader completes on a new arena before it is closed. */
    static final long ARM_READS = 20;
    /** Upper bound on that wait, so the end of an iteration (readers stopped) cannot hang it. */
    static final long ARM_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** Upper bound on {@link OursArmedQuiet}'s wait for the previous arena to be freed. */
    static final long QUIET_TIMEOUT_MILLIS = 50;
    /** Longs between two readers' counters: 128 bytes, never one cache line. */
    private static final int PAD = 16;

    /** The arena readers use now: one of ours, or a JDK one, with its 4 KiB segment. */
    record Current(DrainingArena ours, Arena jdk, MemorySegment segment) {
    }

    /** State of one group: the registry, the current arena, the readers' progress. */
    @State(Scope.Group)
    public static class Target {
        RefRegistry registry;
        volatile Current current;
        final AtomicLongArray progress = new AtomicLongArray((READERS + 1) * PAD);
        final AtomicInteger readers = new AtomicInteger();
        final AtomicInteger names = new AtomicInteger();

        @Setup(Level.Trial)
        public void open() {
            registry = RefRegistry.builder().name("arena-close").leakDetection(LeakDetection.DISABLED).build();
            warmUpClose(registry);
        }

        /**
         * Opens and closes {@value #WARM_UP_CLOSES} arenas, half of them with a lease open at the
         * close, so that the sampled closes run compiled code: a close is sampled only a few hundred
         * times per second, too few for the JIT (without this the median fell from about 180 to
         * 20-50 µs over the iterations of one fork).
         */
        private static void warmUpClose(RefRegistry registry) {
            for (int i = 0; i < WARM_UP_CLOSES; i++) {
                DrainingArena arena = DrainingArena.open(registry, "warm-up-" + i);
                ArenaLease open = i % 2 == 0 ? arena.acquire() : null;
                arena.close();
                if (open != null) {
                    open.close();
                }
                arena.freed().toCompletableFuture().join();
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            Current c = current;
            if (c != null && c.jdk() != null && c.jdk().scope().isAlive()) {
                c.jdk().close();
            }
            registry.shutdown(Duration.ofSeconds(10));
        }

        Current ours() {
            DrainingArena arena = DrainingArena.open(registry, "arena-" + names.incrementAndGet());
            return new Current(arena, null, filled(arena.allocate(BLOCK, 8)));
        }

        Current jdk() {
            Arena arena = Arena.ofShared();
            return new Current(null, arena, filled(arena.allocate(BLOCK, 8)));
        }

        private static MemorySegment filled(MemorySegment segment) {
            for (int i = 0; i < BLOCK / 8; i++) {
                segment.setAtIndex(ValueLayout.JAVA_LONG, i, i);
            }
            return segment;
        }

        /** Publishes {@code next} and waits until each reader has read it {@link #ARM_READS} times. */
        void publish(Current next, long[] seen) {
            current = next;
            for (int i = 0; i < READERS; i++) {
                seen[i] = progress.get((i + 1) * PAD);
            }
            long deadline = System.nanoTime() + ARM_TIMEOUT_NANOS;
            for (int i = 0; i < READERS && System.nanoTime() < deadline; ) {
                if (progress.get((i + 1) * PAD) - seen[i] >= ARM_READS) {
                    i++;
                } else {
                    Thread.onSpinWait();
                }
            }
        }
    }

    /** A reader's slot. */
    @State(Scope.Thread)
    public static class Reader {
        int slot;

        @Setup(Level.Trial)
        public void join(Target target) {
            int index = target.readers.getAndIncrement();
            if (index >= READERS) {
                throw new IllegalStateException("more readers than " + READERS + " in one group");
            }
            slot = (index + 1) * PAD;
        }
    }

    /** The closer's per-invocation setup for our arenas: a new, read arena. */
    @State(Scope.Thread)
    public static class OursArmed {
        final long[] seen = new long[READERS];

        @Setup(Level.Invocation)
        public void arm(Target target) {
            target.publish(target.ours(), seen);
        }
    }

    /**
     * Like {@link OursArmed}, but first waits (untimed, at most {@value #QUIET_TIMEOUT_MILLIS} ms)
     * until the previous sample's arena is freed: its readers' last leases closed and the JDK's
     * close of the underlying shared arena, a handshake with every Java thread, returned on the
     * callback executor. So no such handshake overlaps the sampled close.
     */
    @State(Scope.Thread)
    public static class OursArmedQuiet {
        final long[] seen = new long[READERS];

        @Setup(Level.Invocation)
        public void arm(Target target) {
            Current previous = target.current;
            if (previous != null && previous.ours() != null) {
                try {
                    previous.ours().freed().toCompletableFuture().get(QUIET_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.TimeoutException | InterruptedException
                         | java.util.concurrent.ExecutionException notFreed) {
                    // the iteration is ending (readers stopped): arm anyway
                }
            }
            target.publish(target.ours(), seen);
        }
    }

    /** Like {@link OursArmed}, plus a lease of the closer's own, closed after the sample. */
    @State(Scope.Thread)
    public static class OursArmedHeld {
        final long[] seen = new long[READERS];
        ArenaLease held;

        @Setup(Level.Invocation)
        public void arm(Target target) {
            Current next = target.ours();
            held = next.ours().acquire();
            target.publish(next, seen);
        }

        @TearDown(Level.Invocation)
        public void letGo() {
            held.close();
            held = null;
        }
    }

    /** The closer's per-invocation setup for JDK arenas: a new, read arena. */
    @State(Scope.Thread)
    public static class JdkArmed {
        final long[] seen = new long[READERS];

        @Setup(Level.Invocation)
        public void arm(Target target) {
            target.publish(target.jdk(), seen);
        }
    }

    static long sum(MemorySegment segment) {
        long sum = 0;
        for (int i = 0; i < BLOCK / 8; i++) {
            sum += segment.getAtIndex(ValueLayout.JAVA_LONG, i);
        }
        return sum;
    }

    /** Reads the block and counts one completed read for the closer's arming wait. */
    private static long sumAndCount(Target target, Reader reader, MemorySegment segment) {
        long sum = sum(segment);
        target.progress.lazySet(reader.slot, target.progress.get(reader.slot) + 1);
        return sum;
    }

    static long readOurs(Target target, Reader reader) {
        Current c = target.current;
        if (c == null || c.ours() == null) {
            return 0;
        }
        try (ArenaLease lease = c.ours().acquire()) {
            return sumAndCount(target, reader, c.segment());
        } catch (ResourceUnavailableException closed) {
            return -1;
        }
    }

    /** {@link #readOurs} with {@code tryAcquire()}: a refused lease is an empty Optional, not an exception. */
    static long tryReadOurs(Target target, Reader reader) {
        Current c = target.current;
        if (c == null || c.ours() == null) {
            return 0;
        }
        Optional<ArenaLease> leased = c.ours().tryAcquire();
        if (leased.isEmpty()) {
            return -1;
        }
        try (ArenaLease lease = leased.get()) {
            return sumAndCount(target, reader, c.segment());
        }
    }

    static long readJdk(Target target, Reader reader) {
        Current c = target.current;
        if (c == null || c.jdk() == null) {
            return 0;
        }
        try {
            return sumAndCount(target, reader, c.segment());
        } catch (IllegalStateException closed) {
            return -1;
        }
    }

    /** Our close() returning: the kill. */
    @Benchmark
    @Group("ourClose")
    @GroupThreads(1)
    public void close(Target target, OursArmed armed) {
        target.current.ours().close();
    }

    @Benchmark
    @Group("ourClose")
    @GroupThreads(READERS)
    public long closeReader(Target target, Reader reader) {
        return readOurs(target, reader);
    }

    /** Our close() returning, with the previous arena freed before the sample (no JDK handshake overlapping it). */
    @Benchmark
    @Group("ourCloseQuiet")
    @GroupThreads(1)
    public void closeQuiet(Target target, OursArmedQuiet armed) {
        target.current.ours().close();
    }

    @Benchmark
    @Group("ourCloseQuiet")
    @GroupThreads(READERS)
    public long closeQuietReader(Target target, Reader reader) {
        return readOurs(target, reader);
    }

    /** Our close() returning while the closer holds a lease: no release hand-off inside close(). */
    @Benchmark
    @Group("ourCloseTry")
    @GroupThreads(1)
    public void closeTry(Target target, OursArmed armed) {
        target.current.ours().close();
    }

    @Benchmark
    @Group("ourCloseTry")
    @GroupThreads(READERS)
    public long closeTryReader(Target target, Reader reader) {
        return tryReadOurs(target, reader);
    }

    @Benchmark
    @Group("ourCloseHeld")
    @GroupThreads(1)
    public void closeHeld(Target target, OursArmedHeld armed) {
        target.current.ours().close();
    }

    @Benchmark
    @Group("ourCloseHeld")
    @GroupThreads(READERS)
    public long closeHeldReader(Target target, Reader reader) {
        return readOurs(target, reader);
    }

    /** Our kill until it is confirmed. */
    @Benchmark
    @Group("ourConfirm")
    @GroupThreads(1)
    public void confirm(Target target, OursArmed armed) {
        target.current.ours().kill().toCompletableFuture().join();
    }

    @Benchmark
    @Group("ourConfirm")
    @GroupThreads(READERS)
    public long confirmReader(Target target, Reader reader) {
        return readOurs(target, reader);
    }

    /** Our close until the memory is freed: last lease closed, JDK close run on the callback executor. */
    @Benchmark
    @Group("ourFreed")
    @GroupThreads(1)
    public void freed(Target target, OursArmed armed) {
        DrainingArena arena = target.current.ours();
        arena.close();
        arena.freed().toCompletableFuture().join();
    }

    @Benchmark
    @Group("ourFreed")
    @GroupThreads(READERS)
    public long freedReader(Target target, Reader reader) {
        return readOurs(target, reader);
    }

    /** The JDK's shared arena close, retried until it succeeds; returns the number of failed tries. */
    @Benchmark
    @Group("jdkClose")
    @GroupThreads(1)
    public int jdkClose(Target target, JdkArmed armed) {
        Arena arena = target.current.jdk();
        int failed = 0;
        while (true) {
            try {
                arena.close();
                return failed;
            } catch (IllegalStateException acquired) {
                failed++;
                Thread.onSpinWait();
            }
        }
    }

    @Benchmark
    @Group("jdkClose")
    @GroupThreads(READERS)
    public long jdkCloseReader(Target target, Reader reader) {
        return readJdk(target, reader);
    }
}
