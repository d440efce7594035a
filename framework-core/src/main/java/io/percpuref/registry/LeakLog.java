package io.percpuref.registry;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps a registry's leak log readable under a flood: the first leak from each acquisition site
 * (up to {@link #MAX_SITES} sites) is logged in full, with its trace; every other leak is only
 * counted, and a one-line summary of those is logged at most once per {@link #SUMMARY_INTERVAL_NANOS}
 * (when the next leak arrives after it). The exact total is always {@link RefRegistry#leakCount()}.
 */
final class LeakLog {

    /** Sites logged in full per registry; later new sites are summarized like repeats. */
    static final int MAX_SITES = 256;
    /** At most one summary line per minute. */
    static final long SUMMARY_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final ReentrantLock lock = new ReentrantLock();
    /** Sites logged in full. Guarded by {@link #lock}. */
    private final Set<List<StackTraceElement>> logged = new HashSet<>();
    /** Leaks counted but not logged since the last summary. */
    private final AtomicLong unlogged = new AtomicLong();
    /** nanoTime of the last summary (or of construction). */
    private final AtomicLong lastSummary = new AtomicLong(System.nanoTime());

    /** @return true if a leak from {@code site} must be logged in full (a new site under the cap) */
    boolean firstAt(List<StackTraceElement> site) {
        lock.lock();
        try {
            return logged.size() < MAX_SITES && logged.add(site);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Counts a leak that is not logged in full.
     *
     * @return how many such leaks to summarize now (this one included), or 0 if a summary was
     *         logged less than {@link #SUMMARY_INTERVAL_NANOS} ago
     */
    long countUnlogged() {
        unlogged.incrementAndGet();
        long now = System.nanoTime();
        long last = lastSummary.get();
        if (now - last < SUMMARY_INTERVAL_NANOS || !lastSummary.compareAndSet(last, now)) {
            return 0;
        }
        return unlogged.getAndSet(0);
    }
}
