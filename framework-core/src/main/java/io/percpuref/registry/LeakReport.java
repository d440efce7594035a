package io.percpuref.registry;

import java.util.Objects;

/**
 * A lease that became unreachable without {@link Lease#close()}: its reference on the resource was
 * never put. Delivered through {@link RefListener#onLeak(LeakReport)} for every leak; logged at
 * {@code WARNING} with the acquisition trace for the first leak of each acquisition site (later ones
 * are summarized, see {@code docs/registry.md}).
 *
 * @param refName          the name of the resource the lease was on
 * @param acquiredBy       the name of the thread that acquired the lease
 * @param acquisitionTrace where the lease was acquired: a throwable whose stack trace starts at the
 *                         {@code acquire()}/{@code tryAcquire()} call; {@code null} only if no
 *                         trace was recorded ({@link RefRegistry} records one for every tracked
 *                         lease, and untracked leases are never reported)
 * @param reclaimed        whether the registry put the leaked reference back
 *                         ({@link RefRegistry.Builder#reclaimLeaks(boolean)}), so that the leak
 *                         does not keep the resource from being released
 */
public record LeakReport(String refName, String acquiredBy, Throwable acquisitionTrace, boolean reclaimed) {

    /** @throws NullPointerException if {@code refName} or {@code acquiredBy} is null */
    public LeakReport {
        Objects.requireNonNull(refName, "refName");
        Objects.requireNonNull(acquiredBy, "acquiredBy");
    }
}
