package io.percpuref.registry;

/**
 * How many leases a {@link RefRegistry} tracks, so that a lease that becomes unreachable without
 * {@link Lease#close()} is reported through {@link RefListener#onLeak(LeakReport)}.
 *
 * <p>A tracked lease records the acquiring thread's name and stack trace (a few microseconds) and a
 * phantom reference; an untracked lease costs nothing beyond the lease object itself. Only tracked
 * leases can be reported as leaks, can be reclaimed ({@link RefRegistry.Builder#reclaimLeaks(boolean)}),
 * and appear as holders in a {@link ShutdownReport}. A dying resource tracks every lease it still
 * hands out, whatever the level. The level can be changed on a running registry
 * ({@link RefRegistry#setLeakDetection(LeakDetection)}).
 */
public enum LeakDetection {
    /** Track nothing. */
    DISABLED,
    /**
     * Track a random sample of leases: one in {@link RefRegistry.Builder#leakSamplingInterval(int)}
     * (default 128). Cheap enough for production; a leak that happens often is found quickly.
     */
    SIMPLE,
    /** Track every lease. For tests and for chasing a leak; every acquire captures a stack trace. */
    PARANOID
}
