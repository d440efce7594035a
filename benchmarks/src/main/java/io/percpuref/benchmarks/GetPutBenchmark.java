package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Throughput of one "take a reference, drop it" pair on a single shared object, for
 * {@link PercpuRef} and for what users would pick instead. Run it at 1, 2, 4 and
 * {@code availableProcessors} threads ({@code -t}); {@link Suite} does.
 *
 * <p>Every thread hammers the same object with nothing between the two calls, which is the worst
 * case for a shared counter (every operation moves the cache line) and the best case for per-thread
 * stripes. A score is pairs per microsecond summed over all threads. Each alternative has its own
 * {@code @State}, so a benchmark allocates and touches only the object it measures.
 *
 * <p>What each alternative can do differs, and the numbers should be read with that in mind:
 * the atomic ref counts detect zero on every put; {@code PercpuRef} detects it only after
 * {@code kill()}; {@code LongAdder} never does (it is the "striped counter, no lifecycle" bound);
 * the read locks and the semaphore also exclude writers or bound permits, which a ref count does
 * not need.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GetPutBenchmark {

    /** References taken and dropped per call by {@link #percpuRefMany}. */
    static final int BATCH = 16;

    /**
     * A live ref, with default stripes unless {@code -p stripes=N}. The trial ends with a kill, which must release it at once:
     * a lost or double-counted reference during the run would leave it dying, and fails the trial.
     */
    @State(Scope.Benchmark)
    public static class PercpuRefState {
        /** Stripe count: "default" (twice the CPUs, rounded up to a power of two) or a power of two. */
        @Param("default")
        String stripes;

        PercpuRef ref;

        @Setup
        public void build() {
            PercpuRef.Builder builder = PercpuRef.builder().name("get-put").onRelease(r -> { });
            if (!"default".equals(stripes)) {
                builder.stripes(Integer.parseInt(stripes));
            }
            ref = builder.build();
        }

        @TearDown
        public void killAndCheck() {
            ref.kill();
            if (!ref.isZero()) {
                throw new IllegalStateException("references were lost or double-counted: " + ref);
            }
        }
    }

    /** Lucene/Jetty-style ref count: one AtomicLong. */
    @State(Scope.Benchmark)
    public static class AtomicLongState {
        final AtomicLongRefCount ref = new AtomicLongRefCount(() -> { });
    }

    /** Netty-style ref count: even/odd raw value. */
    @State(Scope.Benchmark)
    public static class EvenOddState {
        final EvenOddRefCount ref = new EvenOddRefCount(() -> { });
    }

    /** A striped counter without zero detection: the bound for "counting only". */
    @State(Scope.Benchmark)
    public static class LongAdderState {
        final LongAdder adder = new LongAdder();
    }

    /** A shared read lock, as used to keep a resource from being closed under its readers. */
    @State(Scope.Benchmark)
    public static class ReadWriteLockState {
        final Lock readLock = new ReentrantReadWriteLock().readLock();
    }

    /** A pessimistic StampedLock read lock (optimistic reads do not pin the resource). */
    @State(Scope.Benchmark)
    public static class StampedLockState {
        final StampedLock lock = new StampedLock();
    }

    /** A semaphore with permits to spare, so acquire never blocks. */
    @State(Scope.Benchmark)
    public static class SemaphoreState {
        final Semaphore semaphore = new Semaphore(Integer.MAX_VALUE / 2);
    }

    /** {@code get(); put();} in per-CPU mode: one CAS on the thread's stripe each. */
    @Benchmark
    public void percpuRef(PercpuRefState s) {
        PercpuRef ref = s.ref;
        ref.get();
        ref.put();
    }

    /** {@code tryGetLive(); put();}: the dying check is one more volatile read of the state word. */
    @Benchmark
    public boolean percpuRefTryGetLive(PercpuRefState s) {
        PercpuRef ref = s.ref;
        if (ref.tryGetLive()) {
            ref.put();
            return true;
        }
        return false;
    }

    /** {@code get(16); put(16);}: a batch costs the same as a single reference. */
    @Benchmark
    public void percpuRefMany(PercpuRefState s) {
        PercpuRef ref = s.ref;
        ref.get(BATCH);
        ref.put(BATCH);
    }

    /** {@code incrementAndGet} / {@code decrementAndGet() == 0}. */
    @Benchmark
    public boolean atomicLong(AtomicLongState s) {
        AtomicLongRefCount ref = s.ref;
        ref.get();
        return ref.put();
    }

    /** {@code tryIncRef} (CAS loop unless zero) / {@code decrementAndGet() == 0}. */
    @Benchmark
    public boolean atomicLongTryGet(AtomicLongState s) {
        AtomicLongRefCount ref = s.ref;
        return ref.tryGet() && !ref.put();
    }

    /** {@code getAndAdd(2)} / CAS {@code v -> v-2} (final put {@code 2 -> 1}). */
    @Benchmark
    public boolean evenOdd(EvenOddState s) {
        EvenOddRefCount ref = s.ref;
        ref.get();
        return ref.put();
    }

    /** {@code increment(); decrement();}. */
    @Benchmark
    public void longAdder(LongAdderState s) {
        LongAdder adder = s.adder;
        adder.increment();
        adder.decrement();
    }

    /** {@code readLock().lock(); readLock().unlock();}. */
    @Benchmark
    public void readWriteLock(ReadWriteLockState s) {
        Lock lock = s.readLock;
        lock.lock();
        lock.unlock();
    }

    /** {@code readLock(); unlockRead(stamp);}. */
    @Benchmark
    public void stampedLock(StampedLockState s) {
        StampedLock lock = s.lock;
        lock.unlockRead(lock.readLock());
    }

    /** {@code acquire(); release();} of one permit. */
    @Benchmark
    public void semaphore(SemaphoreState s) throws InterruptedException {
        Semaphore semaphore = s.semaphore;
        semaphore.acquire();
        semaphore.release();
    }
}
