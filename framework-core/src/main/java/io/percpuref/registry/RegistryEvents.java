package io.percpuref.registry;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The registry's JDK Flight Recorder events: {@code io.percpuref.Kill}, {@code Confirm},
 * {@code Release}, {@code Leak}, {@code Stuck} and {@code Refusal}, each with the registry's name and
 * the resource's name. Record them with {@code -XX:StartFlightRecording} (they are enabled in the
 * JDK's default settings, like every event class without {@code @Enabled(false)}) and read them with
 * {@code jfr print --events 'io.percpuref.*' recording.jfr}; docs/registry.md shows the output.
 *
 * <p>Cost: every hook first asks the event whether it is enabled ({@link Event#isEnabled()}, a
 * field read the JIT folds, the event object itself being scalar-replaced), so while no recording
 * runs a hook computes nothing; the fields (latencies, counts, open leases) are computed only for
 * an event that will be committed. No hook is on the lease fast path: kill, confirm, release, leak
 * and stuck happen once per resource or per leak, and a refusal is already a slow path.
 *
 * <p>Refusals are sampled ({@link RefusalSampler}): at most one {@code Refusal} event per
 * {@link RefusalSampler#INTERVAL_NANOS} per registry, carrying how many refusals the registry
 * counted since the previous one. So a refusal storm while recording costs each refusal a
 * {@code nanoTime()} and a volatile read, and the recording ten events a second.
 *
 * <p>Stack traces: {@code Kill} and {@code Refusal} keep the committing thread's (who killed, who was
 * refused); the others happen on registry threads, whose stack says nothing, so they carry none.
 */
final class RegistryEvents {

    private static final String CATEGORY = "percpu-ref";

    private RegistryEvents() {
    }

    // ------------------------------------------------------------------------------------------
    // Hooks (called by RefRegistry and ManagedEntry)
    // ------------------------------------------------------------------------------------------

    /** After a kill took effect, on the killing thread. */
    static void killed(RefRegistry registry, ManagedEntry<?> e) {
        Kill event = new Kill();
        if (event.isEnabled()) {
            event.registry = registry.name();
            event.resource = e.name();
            event.inFlight = e.info(false).inFlight();
            event.commit();
        }
    }

    /** In the confirm callback. */
    static void confirmed(RefRegistry registry, ManagedEntry<?> e) {
        Confirm event = new Confirm();
        if (event.isEnabled()) {
            event.registry = registry.name();
            event.resource = e.name();
            event.confirmLatency = e.sinceKillNanos();
            event.commit();
        }
    }

    /** Just before the release action runs; {@link #endRelease} commits it. */
    static Release beginRelease() {
        Release event = new Release();
        event.begin();
        return event;
    }

    /** After the release action returned or threw: the event spans the release action. */
    static void endRelease(Release event, RefRegistry registry, ManagedEntry<?> e, boolean failed) {
        event.end();
        if (event.shouldCommit()) {
            event.registry = registry.name();
            event.resource = e.name();
            event.drainTime = e.sinceKillNanos();
            event.failed = failed;
            event.commit();
        }
    }

    /** A tracked lease was found garbage-collected without close(). */
    static void leaked(RefRegistry registry, LeakReport report) {
        Leak event = new Leak();
        if (event.isEnabled()) {
            event.registry = registry.name();
            event.resource = report.refName();
            event.acquiredBy = report.acquiredBy();
            event.acquisitionSite = site(report.acquisitionTrace());
            event.reclaimed = report.reclaimed();
            event.commit();
        }
    }

    /** A resource was found stuck; {@code info} carries its open leases. */
    static void stuck(RefRegistry registry, RefInfo info) {
        Stuck event = new Stuck();
        if (event.isEnabled()) {
            event.registry = registry.name();
            event.resource = info.name();
            event.dyingFor = info.dyingFor().toNanos();
            event.inFlight = info.inFlight();
            info.openLeases().ifPresent(open -> {
                event.trackedLeases = open.holders().size() + open.moreHolders();
                event.untrackedLeases = open.untracked();
                if (!open.holders().isEmpty()) {
                    LeaseHolder oldest = open.holders().get(0);
                    event.oldestTrackedAge = oldest.heldFor().toNanos();
                    event.oldestTrackedBy = oldest.acquiredBy();
                    event.oldestTrackedSite = oldest.site().map(StackTraceElement::toString).orElse(null);
                }
            });
            event.commit();
        }
    }

    /**
     * An acquire was refused (after {@link RefRegistry#rejectionCount()} counted it): sampled, see
     * the class comment.
     */
    static void refused(RefRegistry registry, RefusalSampler sampler, String resource, RefState state) {
        Refusal event = new Refusal();
        if (event.isEnabled()) {
            long refusals = sampler.sample(registry);
            if (refusals > 0) {
                event.registry = registry.name();
                event.resource = resource;
                event.state = state.name();
                event.refusals = refusals;
                event.commit();
            }
        }
    }

    private static String site(Throwable trace) {
        if (trace == null) {
            return null;
        }
        StackTraceElement[] frames = trace.getStackTrace();
        return frames.length == 0 ? null : frames[0].toString();
    }

    // ------------------------------------------------------------------------------------------
    // Refusal sampling
    // ------------------------------------------------------------------------------------------

    /**
     * Decides which refusals of one registry become events: the first one after each interval.
     * Lock-free; the count comes from the registry's own striped counter, so sampling adds no
     * shared write per refusal (only the refusal that becomes an event CASes).
     */
    static final class RefusalSampler {

        /** At most one Refusal event per registry per this interval (100 ms). */
        static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

        /** nanoTime of the last event; starts one interval back, so the first refusal is an event. */
        private final AtomicLong lastEvent = new AtomicLong(System.nanoTime() - INTERVAL_NANOS);
        /** The registry's rejection count when the last event was made. */
        private final AtomicLong countedAtLastEvent = new AtomicLong();

        /**
         * @return how many refusals the event for this one covers (this one included), or 0 if this
         *         refusal is not sampled
         */
        long sample(RefRegistry registry) {
            long now = System.nanoTime();
            long last = lastEvent.get();
            if (now - last < INTERVAL_NANOS || !lastEvent.compareAndSet(last, now)) {
                return 0;
            }
            long total = registry.rejectionCount();
            return Math.max(1, total - countedAtLastEvent.getAndSet(total));
        }
    }

    // ------------------------------------------------------------------------------------------
    // Event types
    // ------------------------------------------------------------------------------------------

    @Name("io.percpuref.Kill")
    @Label("Resource Killed")
    @Category(CATEGORY)
    @Description("A managed resource was killed (LIVE -> DYING): new leases are refused from now on")
    static final class Kill extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        String resource;
        @Label("Leases In Flight")
        @Description("Approximate number of leases open when the kill took effect")
        long inFlight;
    }

    @Name("io.percpuref.Confirm")
    @Label("Kill Confirmed")
    @Category(CATEGORY)
    @Description("A kill was confirmed: every acquire that could still succeed has finished")
    @StackTrace(false)
    static final class Confirm extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        String resource;
        @Label("Confirm Latency")
        @Description("Time from the kill to its confirmation")
        @Timespan(Timespan.NANOSECONDS)
        long confirmLatency;
    }

    @Name("io.percpuref.Release")
    @Label("Resource Released")
    @Category(CATEGORY)
    @Description("The last lease of a killed resource closed and its release action ran; the event's duration is the release action's")
    @StackTrace(false)
    static final class Release extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        String resource;
        @Label("Drain Time")
        @Description("Time from the kill to the end of the release action")
        @Timespan(Timespan.NANOSECONDS)
        long drainTime;
        @Label("Release Action Failed")
        boolean failed;
    }

    @Name("io.percpuref.Leak")
    @Label("Lease Leaked")
    @Category(CATEGORY)
    @Description("A tracked lease was garbage-collected without close()")
    @StackTrace(false)
    static final class Leak extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        String resource;
        @Label("Acquired By")
        @Description("Name of the thread that acquired the lease")
        String acquiredBy;
        @Label("Acquisition Site")
        @Description("The caller's acquire() frame")
        String acquisitionSite;
        @Label("Reclaimed")
        @Description("Whether the lease's reference was put back (reclaimLeaks)")
        boolean reclaimed;
    }

    @Name("io.percpuref.Stuck")
    @Label("Resource Stuck")
    @Category(CATEGORY)
    @Description("A resource has been dying longer than the registry's stuck threshold; names its oldest tracked holder")
    @StackTrace(false)
    static final class Stuck extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        String resource;
        @Label("Dying For")
        @Timespan(Timespan.NANOSECONDS)
        long dyingFor;
        @Label("Leases In Flight")
        long inFlight;
        @Label("Tracked Open Leases")
        long trackedLeases;
        @Label("Untracked Open Leases")
        @Description("Open leases that were not tracked: opened before the kill")
        long untrackedLeases;
        @Label("Oldest Tracked Lease Age")
        @Timespan(Timespan.NANOSECONDS)
        long oldestTrackedAge;
        @Label("Oldest Tracked Lease Thread")
        String oldestTrackedBy;
        @Label("Oldest Tracked Lease Site")
        String oldestTrackedSite;
    }

    @Name("io.percpuref.Refusal")
    @Label("Lease Refused")
    @Category(CATEGORY)
    @Description("An acquire was refused because the resource was dying, releasing, released or unknown; sampled: "
            + "at most one event per registry every 100 ms, counting the refusals since the previous one")
    static final class Refusal extends Event {
        @Label("Registry")
        String registry;
        @Label("Resource")
        @Description("The resource of the sampled refusal")
        String resource;
        @Label("State")
        String state;
        @Label("Refusals")
        @Description("Refusals of this registry (any resource) since its previous Refusal event, this one included")
        long refusals;
    }
}
