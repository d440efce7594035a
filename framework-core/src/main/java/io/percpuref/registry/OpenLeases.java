package io.percpuref.registry;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The leases of one resource that were still open when this was taken: an exact count plus, for
 * the leases that leak detection tracks, who holds them and where they were acquired. Returned by
 * {@link RefRegistry#openLeases()} and {@link ManagedResource#openLeases()}; no garbage collection
 * is involved, so it answers "is anything still open?" deterministically, for example at the end of
 * a test or of a request scope.
 *
 * <p>A lease counts as open from {@code acquire()}/{@code tryAcquire()}/{@code retain()} until its
 * {@code close()}. A lease that became garbage without {@code close()} (a leak) stays open, because
 * its reference is still counted, unless {@link RefRegistry.Builder#reclaimLeaks(boolean)} put it
 * back. So {@code count == holders().size() + moreHolders() + leaked + untracked()} where
 * {@code leaked} is the sum of {@link #leakSites()}' counts.
 *
 * <p>Bounded: at most {@link #MAX_HOLDERS} holders are listed, the longest held; the other tracked
 * open leases are only counted, in {@link #moreHolders()}.
 *
 * <p>Holders of a dying resource ("track from kill"): from its kill on, a resource tracks every
 * lease it still hands out ({@link Lease#retain()}, or an acquire racing the kill), whatever the
 * leak detection level. The leases already open at the kill cannot be attributed after the fact:
 * those that leak detection did not track are counted in {@link #untracked()}, and since they were
 * opened before the kill, each has been held at least {@link #dyingFor()}.
 * {@link #oldestTracked()} is the age of the longest held tracked one.
 *
 * @param refName   the resource's name
 * @param state     its state when this was taken
 * @param count     how many leases were open: exact when no lease of this resource was acquired or
 *                  closed while it was read (it is read like {@link RefInfo#inFlight()})
 * @param holders     the open leases that leak detection tracks (every lease with
 *                    {@link LeakDetection#PARANOID}, a sample with {@link LeakDetection#SIMPLE}, none
 *                    with {@link LeakDetection#DISABLED}), longest held first, at most
 *                    {@link #MAX_HOLDERS}: thread, age and acquisition site
 * @param moreHolders how many more tracked open leases there were beyond those listed
 * @param leakSites the tracked leases that the garbage collector found unclosed and that were not
 *                  reclaimed, by acquisition site (see {@link LeakSite})
 * @param dyingFor  time since the kill when this was taken; {@link Duration#ZERO} unless the resource
 *                  was {@link RefState#DYING}
 */
public record OpenLeases(String refName, RefState state, long count, List<LeaseHolder> holders, long moreHolders,
                         List<LeakSite> leakSites, Duration dyingFor) {

    /** The most holders listed per resource (32), the longest held; the rest are counted in {@link #moreHolders()}. */
    public static final int MAX_HOLDERS = 32;

    /**
     * @throws NullPointerException     if a component other than {@code count} or {@code moreHolders} is null
     * @throws IllegalArgumentException if {@code count} or {@code moreHolders} is negative
     */
    public OpenLeases {
        Objects.requireNonNull(dyingFor, "dyingFor");
        Objects.requireNonNull(refName, "refName");
        Objects.requireNonNull(state, "state");
        if (count < 0) {
            throw new IllegalArgumentException("resource '" + refName + "' [" + state
                    + "]: open lease count must not be negative, was " + count);
        }
        if (moreHolders < 0) {
            throw new IllegalArgumentException("resource '" + refName + "' [" + state
                    + "]: moreHolders must not be negative, was " + moreHolders);
        }
        holders = List.copyOf(Objects.requireNonNull(holders, "holders"));
        leakSites = List.copyOf(Objects.requireNonNull(leakSites, "leakSites"));
    }

    /**
     * The open leases of a resource that was not dying ({@link #dyingFor()} is {@link Duration#ZERO}).
     *
     * @throws NullPointerException     if a component other than {@code count} or {@code moreHolders} is null
     * @throws IllegalArgumentException if {@code count} or {@code moreHolders} is negative
     */
    public OpenLeases(String refName, RefState state, long count, List<LeaseHolder> holders, long moreHolders,
                      List<LeakSite> leakSites) {
        this(refName, state, count, holders, moreHolders, leakSites, Duration.ZERO);
    }

    /**
     * How long the longest held tracked open lease has been held; empty if no open lease is tracked.
     * For a dying resource whose {@link #untracked()} leases are not all known, the untracked ones
     * have been held at least {@link #dyingFor()} (they were opened before the kill).
     */
    public Optional<Duration> oldestTracked() {
        return holders.isEmpty() ? Optional.empty() : Optional.of(holders.get(0).heldFor());
    }

    /**
     * How many of the open leases are neither in {@link #holders()} or {@link #moreHolders()} nor in
     * {@link #leakSites()}: open leases that leak detection did not track, so only their number is known. 0 with
     * {@link LeakDetection#PARANOID} (when the count was read exactly).
     */
    public long untracked() {
        long leaked = 0;
        for (LeakSite s : leakSites) {
            leaked += s.count();
        }
        return Math.max(0, count - holders.size() - moreHolders - leaked);
    }

    /** Whether no lease was open. */
    public boolean isEmpty() {
        return count == 0;
    }

    /**
     * A multi-line description naming the resource, its state, and for each tracked lease the thread
     * that acquired it, how long it has been held and its acquisition stack trace, for example:
     *
     * <pre>
     * resource 'channel-42' [LIVE]: 2 open leases
     *   held for PT0.012S by thread 'main'
     *     at com.example.ChannelTest.sends(ChannelTest.java:33)
     *   1 open lease not tracked (leak detection SIMPLE samples leases; PARANOID tracks every one)
     * </pre>
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("resource '").append(refName).append("' [").append(state).append("]: ")
                .append(count).append(count == 1 ? " open lease" : " open leases");
        for (LeaseHolder h : holders) {
            sb.append("\n  held for ").append(h.heldFor()).append(" by thread '").append(h.acquiredBy()).append('\'');
            appendTrace(sb, h.acquisitionTrace());
        }
        if (moreHolders > 0) {
            sb.append("\n  ").append(moreHolders).append(" more tracked open lease").append(moreHolders == 1 ? "" : "s")
                    .append(" (only the ").append(MAX_HOLDERS).append(" longest held are listed)");
        }
        for (LeakSite site : leakSites) {
            sb.append("\n  ").append(site.count()).append(site.count() == 1 ? " leaked lease" : " leaked leases")
                    .append(" (garbage-collected without close())");
            if (site.acquisitionTrace() == null) {
                sb.append(" from other sites (only ").append(LeakSite.MAX_PER_RESOURCE).append(" are kept)");
            } else {
                sb.append(", the first by thread '").append(site.firstAcquiredBy()).append('\'');
                appendTrace(sb, site.acquisitionTrace());
            }
        }
        long untracked = untracked();
        if (untracked > 0) {
            sb.append("\n  ").append(untracked).append(untracked == 1 ? " open lease" : " open leases")
                    .append(" not tracked");
            if (state == RefState.DYING) {
                sb.append(", opened before the kill, so held for at least ").append(dyingFor);
            }
            sb.append(" (leak detection tracks none with DISABLED, a sample with SIMPLE;"
                    + " PARANOID tracks every lease with its thread and acquisition site)");
        }
        return sb.toString();
    }

    private static void appendTrace(StringBuilder sb, Throwable trace) {
        if (trace != null) {
            for (StackTraceElement e : trace.getStackTrace()) {
                sb.append("\n    at ").append(e);
            }
        }
    }
}
