package io.percpuref.registry;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What {@link RefRegistry#shutdown(java.time.Duration)} achieved: which resources were released
 * before the timeout (and whose release action failed), and which were still dying or releasing
 * (the stragglers) with their outstanding lease counts and, where leak detection tracked them, the
 * holders of those leases and the sites of leaked ones.
 *
 * <p>{@link #toString()} renders a multi-line summary suitable for a log line:
 *
 * <pre>
 * shutdown: 2 released, 1 straggler
 *   straggler 'aio-ctx-7': DYING, 20003 in flight, dying for PT30.002S
 *     held for PT41.5S by thread 'worker-3'
 *       at com.example.Worker.run(Worker.java:42)
 *     2 open leases not tracked, opened before the kill, so held for at least PT30.002S
 *     20000 leaked leases (never closed), the first by thread 'worker-1'
 *       at com.example.Worker.forget(Worker.java:57)
 * </pre>
 */
public final class ShutdownReport {

    private final List<String> released;
    private final List<RefInfo> stragglers;
    private final Map<String, List<LeaseHolder>> holders;
    private final Map<String, List<LeakSite>> leakSites;
    private final Map<String, Throwable> releaseFailures;

    /**
     * @param released   names of the resources released before the report was made
     * @param stragglers resources still dying
     * @param holders    tracked outstanding leases per straggler name (missing or empty when none
     *                   was tracked)
     * @throws NullPointerException if an argument is null
     */
    public ShutdownReport(List<String> released, List<RefInfo> stragglers, Map<String, List<LeaseHolder>> holders) {
        this(released, stragglers, holders, Map.of(), Map.of());
    }

    /**
     * @param released        names of the resources released before the report was made (their
     *                        release action ran, failed or not)
     * @param stragglers      resources still dying or releasing
     * @param holders         tracked open leases per straggler name (missing or empty when none was
     *                        tracked)
     * @param leakSites       unreclaimed leaks per straggler name, by acquisition site (missing or
     *                        empty when none)
     * @param releaseFailures what the release action threw, per released name whose action failed
     * @throws NullPointerException if an argument is null
     */
    public ShutdownReport(List<String> released, List<RefInfo> stragglers, Map<String, List<LeaseHolder>> holders,
                          Map<String, List<LeakSite>> leakSites, Map<String, Throwable> releaseFailures) {
        this.released = List.copyOf(Objects.requireNonNull(released, "released"));
        this.stragglers = List.copyOf(Objects.requireNonNull(stragglers, "stragglers"));
        this.holders = copyOf(Objects.requireNonNull(holders, "holders"));
        this.leakSites = copyOf(Objects.requireNonNull(leakSites, "leakSites"));
        this.releaseFailures = Collections.unmodifiableMap(
                new TreeMap<>(Objects.requireNonNull(releaseFailures, "releaseFailures")));
    }

    private static <V> Map<String, List<V>> copyOf(Map<String, List<V>> map) {
        Map<String, List<V>> copy = new LinkedHashMap<>();
        map.forEach((name, list) -> copy.put(name, List.copyOf(list)));
        return copy;
    }

    /** Names of the resources that were released, in name order. */
    public List<String> released() {
        return released;
    }

    /**
     * The resources that were not released when the timeout expired, in name order: {@link RefState#DYING}
     * ones wait for leases, {@link RefState#RELEASING} ones for their release action to return.
     */
    public List<RefInfo> stragglers() {
        return stragglers;
    }

    /**
     * What the release action threw, per resource whose action failed, in name order. Those
     * resources are {@link RefState#RELEASED} (and listed in {@link #released()}): their action ran
     * and will not run again, but whatever it should have closed may still be open.
     */
    public Map<String, Throwable> releaseFailures() {
        return releaseFailures;
    }

    /**
     * True iff every resource was released in time and no release action failed: no stragglers
     * (neither dying with leases outstanding nor {@link RefState#RELEASING releasing}) and no
     * {@link #releaseFailures()}.
     */
    public boolean isClean() {
        return stragglers.isEmpty() && releaseFailures.isEmpty();
    }

    /**
     * The tracked outstanding leases of the straggler {@code refName}: who holds it up. Empty when
     * none of its leases was tracked (or it is not a straggler); with {@link LeakDetection#SIMPLE}
     * it is a sample plus every lease taken since the kill, with {@link LeakDetection#PARANOID}
     * complete. Longest held first, at most {@link OpenLeases#MAX_HOLDERS}; the straggler's
     * {@link RefInfo#openLeases()} counts the rest and the untracked ones.
     */
    public List<LeaseHolder> holders(String refName) {
        return holders.getOrDefault(refName, List.of());
    }

    /**
     * The unreclaimed leaked leases that hold the straggler {@code refName}, one entry per
     * acquisition site with a count (at most {@link LeakSite#MAX_PER_RESOURCE} sites plus one for
     * the rest). Empty when none was detected (or it is not a straggler).
     */
    public List<LeakSite> leakSites(String refName) {
        return leakSites.getOrDefault(refName, List.of());
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("shutdown: ").append(released.size()).append(" released, ")
                .append(stragglers.size()).append(stragglers.size() == 1 ? " straggler" : " stragglers");
        if (!releaseFailures.isEmpty()) {
            sb.append(", ").append(releaseFailures.size())
                    .append(releaseFailures.size() == 1 ? " failed release" : " failed releases");
        }
        releaseFailures.forEach((name, failure) ->
                sb.append("\n  release action of '").append(name).append("' failed: ").append(failure));
        for (RefInfo s : stragglers) {
            sb.append("\n  straggler '").append(s.name()).append("': ").append(s.state());
            if (s.state() == RefState.RELEASING) {
                sb.append(" (release action running)");
            } else {
                sb.append(", ").append(s.inFlight()).append(" in flight");
            }
            sb.append(", dying for ").append(s.dyingFor());
            for (LeaseHolder h : holders(s.name())) {
                sb.append("\n    held for ").append(h.heldFor()).append(" by thread '").append(h.acquiredBy()).append('\'');
                appendTrace(sb, h.acquisitionTrace());
            }
            s.openLeases().ifPresent(open -> {
                if (open.moreHolders() > 0) {
                    sb.append("\n    ").append(open.moreHolders()).append(" more tracked open lease")
                            .append(open.moreHolders() == 1 ? "" : "s").append(" (only the ")
                            .append(OpenLeases.MAX_HOLDERS).append(" longest held are listed)");
                }
                if (open.untracked() > 0) {
                    sb.append("\n    ").append(open.untracked()).append(open.untracked() == 1 ? " open lease" : " open leases")
                            .append(" not tracked, opened before the kill, so held for at least ").append(open.dyingFor());
                }
            });
            for (LeakSite site : leakSites(s.name())) {
                sb.append("\n    ").append(site.count()).append(site.count() == 1 ? " leaked lease" : " leaked leases")
                        .append(" (never closed)");
                if (site.acquisitionTrace() == null) {
                    sb.append(" from other sites (only ").append(LeakSite.MAX_PER_RESOURCE).append(" are kept)");
                } else {
                    sb.append(", the first by thread '").append(site.firstAcquiredBy()).append('\'');
                    appendTrace(sb, site.acquisitionTrace());
                }
            }
        }
        return sb.toString();
    }

    private static void appendTrace(StringBuilder sb, Throwable trace) {
        if (trace != null) {
            for (StackTraceElement e : trace.getStackTrace()) {
                sb.append("\n      at ").append(e);
            }
        }
    }
}
