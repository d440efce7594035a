package io.percpuref.registry;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The unreclaimed leaks of one entry, aggregated by acquisition site (the trace's frames): at most
 * {@link LeakSite#MAX_PER_RESOURCE} sites with one trace each, plus a count of the leaks from other
 * sites. Written on the leak-handling path only (never by a lease), read by shutdown reports.
 *
 * <p>A lock, not {@code synchronized}, so that no virtual thread is pinned; the critical sections
 * are a map lookup and an increment.
 */
final class LeakSites {

    private final ReentrantLock lock = new ReentrantLock();
    /** Per site: the first leak's trace and thread, and the count. Guarded by {@link #lock}. */
    private final Map<List<StackTraceElement>, Site> sites = new LinkedHashMap<>();
    /** Leaks from sites beyond the cap. Guarded by {@link #lock}. */
    private long others;

    /** Counts one leak of a lease acquired at {@code trace} by {@code acquiredBy}. */
    void add(AcquisitionTrace trace, String acquiredBy) {
        List<StackTraceElement> key = Arrays.asList(trace.getStackTrace());
        lock.lock();
        try {
            Site site = sites.get(key);
            if (site != null) {
                site.count++;
            } else if (sites.size() < LeakSite.MAX_PER_RESOURCE) {
                sites.put(key, new Site(trace, acquiredBy));
            } else {
                others++;
            }
        } finally {
            lock.unlock();
        }
    }

    /** The sites, in order of their first leak, then the leaks beyond the cap if any. */
    List<LeakSite> toList(String refName) {
        lock.lock();
        try {
            List<LeakSite> out = new ArrayList<>(sites.size() + 1);
            for (Site s : sites.values()) {
                out.add(new LeakSite(refName, s.trace, s.acquiredBy, s.count));
            }
            if (others > 0) {
                out.add(new LeakSite(refName, null, null, others));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    private static final class Site {
        final AcquisitionTrace trace;
        final String acquiredBy;
        long count = 1;

        Site(AcquisitionTrace trace, String acquiredBy) {
            this.trace = trace;
            this.acquiredBy = acquiredBy;
        }
    }
}
