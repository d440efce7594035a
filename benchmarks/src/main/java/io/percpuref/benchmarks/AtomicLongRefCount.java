package io.percpuref.benchmarks;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The reference count most JVM code uses today: one {@link AtomicLong}, incremented and
 * decremented by every holder, with the decrement that reaches zero closing the resource. This is
 * the shape of Lucene's {@code IndexReader.incRef/tryIncRef/decRef} and Jetty's
 * {@code Retainable.ReferenceCounter}; written here from that description, not copied.
 *
 * <p>Every {@code get}/{@code put} is one atomic read-modify-write on the same cache line, so all
 * threads that use the resource serialize on that line. Zero is detected immediately, which is
 * what {@link io.percpuref.PercpuRef} gives up in per-CPU mode.
 */
final class AtomicLongRefCount {

    /** References held, including the creator's initial one; 0 once released. */
    private final AtomicLong count = new AtomicLong(1);
    /** Runs once, in the thread whose put reaches zero. */
    private final Runnable release;

    AtomicLongRefCount(Runnable release) {
        this.release = release;
    }

    /**
     * Takes a reference with a single {@code lock xadd}; the caller must already hold one.
     *
     * @throws IllegalStateException if the count was already zero (the increment is undone)
     */
    void get() {
        if (count.getAndIncrement() <= 0) {
            count.getAndDecrement();
            throw new IllegalStateException("get() on a released ref count");
        }
    }

    /** Takes a reference unless the count is zero: a CAS loop, as {@code tryIncRef} does. */
    boolean tryGet() {
        for (;;) {
            long c = count.get();
            if (c <= 0) {
                return false;
            }
            if (count.compareAndSet(c, c + 1)) {
                return true;
            }
        }
    }

    /**
     * Drops a reference; the put that reaches zero runs release.
     *
     * @return whether this put released the resource
     * @throws IllegalStateException if the count went below zero
     */
    boolean put() {
        long c = count.decrementAndGet();
        if (c > 0) {
            return false;
        }
        if (c < 0) {
            throw new IllegalStateException("put() below zero: " + c);
        }
        release.run();
        return true;
    }
}
