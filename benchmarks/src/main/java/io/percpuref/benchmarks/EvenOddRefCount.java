package io.percpuref.benchmarks;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference count in the style of Netty's {@code ReferenceCountUpdater}: the raw value counts in
 * steps of two and is odd once the object is released. Written here from that description, not
 * copied.
 *
 * <p>Why odd means released: {@link #get()} can then be a plain {@code getAndAdd(2)} with no retry
 * loop, because adding two to an odd value leaves it odd, so a get that races with the final put
 * cannot bring a released object back to life; it only has to look at the old value. The put that
 * drops the last reference must instead move {@code 2 -> 1} with a CAS (a {@code getAndAdd(-2)}
 * reaching zero would be even, i.e. "live", for a racing get), so {@link #put()} is a CAS loop.
 * Netty yields the thread when that CAS fails; this version just retries.
 */
final class EvenOddRefCount {

    /** Twice the number of references while live; odd once released. */
    private final AtomicInteger raw = new AtomicInteger(2);
    /** Runs once, in the thread whose put releases. */
    private final Runnable release;

    EvenOddRefCount(Runnable release) {
        this.release = release;
    }

    /**
     * Takes a reference with a single {@code getAndAdd(2)}; the caller must already hold one.
     *
     * @throws IllegalStateException if the object was already released (the raw value stays odd)
     */
    void get() {
        if ((raw.getAndAdd(2) & 1) != 0) {
            throw new IllegalStateException("get() on a released ref count");
        }
    }

    /** Takes a reference unless released: the same single {@code getAndAdd(2)}. */
    boolean tryGet() {
        return (raw.getAndAdd(2) & 1) == 0;
    }

    /**
     * Drops a reference; the put that drops the last one marks the count odd and runs release.
     *
     * @return whether this put released the object
     * @throws IllegalStateException if the object was already released
     */
    boolean put() {
        for (;;) {
            int v = raw.get();
            if ((v & 1) != 0) {
                throw new IllegalStateException("put() on a released ref count");
            }
            if (v == 2) {
                if (raw.compareAndSet(2, 1)) {
                    release.run();
                    return true;
                }
            } else if (raw.compareAndSet(v, v - 2)) {
                return false;
            }
        }
    }
}
