package io.percpuref.registry;

import java.util.Objects;

/**
 * Leaked leases of one resource that were acquired at one place: the leaks that keep it from being
 * released, aggregated so that a leak in a loop costs one record, not one per lease. Appears in a
 * {@link ShutdownReport} for a straggler ({@link ShutdownReport#leakSites(String)}).
 *
 * <p>Only leaks that were not reclaimed ({@link RefRegistry.Builder#reclaimLeaks(boolean)}) are
 * kept: a reclaimed leak no longer holds the resource. A resource keeps at most
 * {@link #MAX_PER_RESOURCE} distinct sites, each with one trace; leaks from further sites are only
 * counted, in one more site whose {@link #acquisitionTrace()} and {@link #firstAcquiredBy()} are
 * null. {@link RefRegistry#leakCount()} counts every leak exactly, whatever the cap.
 *
 * @param refName          the name of the resource the leases were on
 * @param acquisitionTrace where the leases were acquired (the stack trace starts at the
 *                         {@code acquire()}/{@code tryAcquire()} call); null for the leaks beyond the cap
 * @param firstAcquiredBy  the name of the thread that acquired the first of them; null for the leaks
 *                         beyond the cap
 * @param count            how many leased leaked from this site (at least 1)
 */
public record LeakSite(String refName, Throwable acquisitionTrace, String firstAcquiredBy, long count) {

    /** The most distinct acquisition sites kept per resource (16). */
    public static final int MAX_PER_RESOURCE = 16;

    /**
     * @throws NullPointerException     if {@code refName} is null
     * @throws IllegalArgumentException if {@code count < 1}
     */
    public LeakSite {
        Objects.requireNonNull(refName, "refName");
        if (count < 1) {
            throw new IllegalArgumentException("leak site of resource '" + refName + "': count must be at least 1, was "
                    + count);
        }
    }
}
