package io.percpuref.spring.actuate;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.LeakSite;
import io.percpuref.registry.LeaseHolder;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.OpenLeases;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.Access;
import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;
import org.springframework.boot.actuate.endpoint.OperationResponseBody;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The {@code percpurefs} actuator endpoint: the registry's resources, one resource by name with
 * the holders of a dying one, a kill by name, and a change of leak detection. Like every endpoint it is reachable over HTTP (or JMX) only where the application
 * exposes it, for example {@code management.endpoints.web.exposure.include=health,percpurefs}.
 *
 * <p>Its default access is {@link Access#READ_ONLY}: the kill, which closes a resource of the
 * running application, and the leak detection change are there only after an explicit opt-in,
 * {@code management.endpoint.percpurefs.access=unrestricted} (as Spring Boot keeps its
 * {@code shutdown} endpoint off by default). Secure it like any actuator write operation.
 *
 * <ul>
 *   <li>{@code GET /actuator/percpurefs}: counts and every live and dying resource;</li>
 *   <li>{@code GET /actuator/percpurefs/{name}}: one resource, 404 if none has that name; for a
 *   dying one, who holds it (thread, age, acquisition site and trace of each tracked lease, the
 *   number of untracked ones);</li>
 *   <li>{@code POST /actuator/percpurefs/{name}} (with unrestricted access only): kills it (new leases are refused at once; it is
 *   released, and closed, when its last lease closes) and reports what happened;</li>
 *   <li>{@code POST /actuator/percpurefs} with {@code {"leakDetection": "PARANOID", "leakSamplingInterval": 16}}
 *   (either or both; with unrestricted access only): changes the running registry's leak detection.</li>
 * </ul>
 * Durations are ISO-8601 strings ({@code PT1.5S}).
 */
@Endpoint(id = "percpurefs", defaultAccess = Access.READ_ONLY)
public class PercpuRefsEndpoint {

    private final RefRegistry registry;

    /** @throws NullPointerException if {@code registry} is null */
    public PercpuRefsEndpoint(RefRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    /** Counts and every live and dying resource, in name order (not an atomic snapshot). */
    @ReadOperation
    public RefsDescriptor refs() {
        List<RefDescriptor> refs = this.registry.snapshot().stream().map(info -> RefDescriptor.of(info, false)).toList();
        return new RefsDescriptor(this.registry.liveCount(), this.registry.dyingCount(), this.registry.stuckCount(),
                this.registry.stuckThreshold().toString(), this.registry.leakDetection(),
                this.registry.leakSamplingInterval(), refs);
    }

    /**
     * The live or dying resource named {@code name}, with the holders of a dying one (their
     * acquisition traces included); {@code null} (404) if there is none.
     */
    @ReadOperation
    public @Nullable RefDescriptor ref(@Selector String name) {
        return this.registry.find(name).map(r -> RefDescriptor.of(r.info(), true)).orElse(null);
    }

    /**
     * Changes the running registry's leak detection level, sampling interval, or both
     * ({@link RefRegistry#setLeakDetection}, {@link RefRegistry#setLeakSamplingInterval}), for the
     * leases acquired from now on; leases already open keep their tracking. An operator turns on
     * {@code PARANOID} before killing a resource to learn who holds it, then turns it back.
     *
     * @throws InvalidEndpointRequestException (400) if neither is given, or the interval is below 1
     */
    @WriteOperation
    public LeakDetectionDescriptor leakDetection(@Nullable LeakDetection leakDetection,
            @Nullable Integer leakSamplingInterval) {
        String before = leakDetectionSetting();
        if (leakDetection == null && leakSamplingInterval == null) {
            throw new InvalidEndpointRequestException("registry '" + this.registry.name() + "' (leak detection "
                    + before + "): give leakDetection (" + Arrays.toString(LeakDetection.values())
                    + ") or leakSamplingInterval, or both", "No leakDetection or leakSamplingInterval");
        }
        if (leakSamplingInterval != null && leakSamplingInterval < 1) {
            throw new InvalidEndpointRequestException("registry '" + this.registry.name() + "' (leak detection "
                    + before + "): leakSamplingInterval must be at least 1, was " + leakSamplingInterval,
                    "leakSamplingInterval must be at least 1");
        }
        if (leakSamplingInterval != null) {
            this.registry.setLeakSamplingInterval(leakSamplingInterval);
        }
        if (leakDetection != null) {
            this.registry.setLeakDetection(leakDetection);
        }
        return new LeakDetectionDescriptor(this.registry.leakDetection(), this.registry.leakSamplingInterval(),
                "leak detection " + before + " -> " + leakDetectionSetting()
                        + " for leases acquired from now on; open leases keep their tracking");
    }

    private String leakDetectionSetting() {
        return this.registry.leakDetection() + " (sampling interval " + this.registry.leakSamplingInterval() + ")";
    }

    /**
     * Kills the resource named {@code name} if it is live. Idempotent for the operator: a resource
     * that is already dying is reported, not killed again.
     */
    @WriteOperation
    public KillDescriptor kill(@Selector String name) {
        ManagedResource<?> resource = this.registry.find(name).orElse(null);
        if (resource == null) {
            return new KillDescriptor(name, false, null, "no live or dying resource is registered under this name");
        }
        try {
            resource.kill();
        }
        catch (IllegalStateException alreadyKilled) {
            return new KillDescriptor(name, false, resource.state(), "already killed: it is released when its last lease closes");
        }
        return new KillDescriptor(name, true, resource.state(),
                "killed: new leases are refused; it is released when its last lease closes");
    }

    /**
     * All resources.
     *
     * @param live           number of live resources
     * @param dying          number of dying resources (killed, leases outstanding)
     * @param stuck          number of resources dying longer than the stuck threshold
     * @param stuckThreshold the registry's stuck threshold
     * @param leakDetection        the registry's current leak detection level
     * @param leakSamplingInterval its current sampling interval (one lease in this many with {@code SIMPLE})
     * @param refs           every live and dying resource, in name order
     */
    public record RefsDescriptor(long live, long dying, long stuck, String stuckThreshold, LeakDetection leakDetection,
            int leakSamplingInterval, List<RefDescriptor> refs) implements OperationResponseBody {
    }

    /**
     * One resource.
     *
     * @param name     its registered name
     * @param state    {@code LIVE}, {@code DYING} or {@code RELEASED}
     * @param inFlight approximately how many leases are outstanding
     * @param age      time since registration
     * @param dyingFor time since the kill ({@code PT0S} while live)
     * @param holders  who holds a dying resource; {@code null} unless it is {@code DYING}
     */
    public record RefDescriptor(String name, RefState state, long inFlight, String age, String dyingFor,
            @Nullable HoldersDescriptor holders) implements OperationResponseBody {

        static RefDescriptor of(RefInfo info, boolean withTraces) {
            return new RefDescriptor(info.name(), info.state(), info.inFlight(), info.age().toString(),
                    info.dyingFor().toString(), info.openLeases().map(o -> HoldersDescriptor.of(o, withTraces)).orElse(null));
        }
    }

    /**
     * Who holds a dying resource ({@link OpenLeases}): the tracked open leases, at most
     * {@link OpenLeases#MAX_HOLDERS} listed, the longest held first.
     *
     * @param openLeases           how many leases are open
     * @param tracked              the listed tracked leases
     * @param moreTracked          tracked leases beyond those listed
     * @param untracked            open leases that were not tracked: opened before the kill
     * @param untrackedHeldAtLeast how long each untracked one has been held at least (the time since the kill)
     * @param oldestTracked        how long the longest held tracked lease has been held; {@code null} if none
     * @param leaked               leases found garbage-collected unclosed (not reclaimed), by acquisition site
     */
    public record HoldersDescriptor(long openLeases, List<HolderDescriptor> tracked, long moreTracked, long untracked,
            String untrackedHeldAtLeast, @Nullable String oldestTracked, List<LeakedDescriptor> leaked) {

        static HoldersDescriptor of(OpenLeases open, boolean withTraces) {
            return new HoldersDescriptor(open.count(),
                    open.holders().stream().map(h -> HolderDescriptor.of(h, withTraces)).toList(), open.moreHolders(),
                    open.untracked(), open.dyingFor().toString(), open.oldestTracked().map(Object::toString).orElse(null),
                    open.leakSites().stream().map(LeakedDescriptor::of).toList());
        }
    }

    /**
     * One tracked open lease.
     *
     * @param thread  the name of the thread that acquired it
     * @param heldFor how long it has been held
     * @param site    where it was acquired: the caller's {@code acquire()}/{@code retain()} frame
     * @param trace   the whole acquisition stack trace, one frame per element (only for one resource,
     *                {@code GET /actuator/percpurefs/{name}}; empty in the list)
     */
    public record HolderDescriptor(String thread, String heldFor, @Nullable String site, List<String> trace) {

        static HolderDescriptor of(LeaseHolder holder, boolean withTrace) {
            List<String> trace = !withTrace || holder.acquisitionTrace() == null ? List.of()
                    : Arrays.stream(holder.acquisitionTrace().getStackTrace()).map(Object::toString).toList();
            return new HolderDescriptor(holder.acquiredBy(), holder.heldFor().toString(),
                    holder.site().map(Object::toString).orElse(null), trace);
        }
    }

    /**
     * Leaked leases from one acquisition site.
     *
     * @param count           how many
     * @param site            the caller's {@code acquire()} frame; {@code null} for the leaks beyond the per-resource cap of sites
     * @param firstAcquiredBy the thread that acquired the first; {@code null} likewise
     */
    public record LeakedDescriptor(long count, @Nullable String site, @Nullable String firstAcquiredBy) {

        static LeakedDescriptor of(LeakSite site) {
            Throwable trace = site.acquisitionTrace();
            String frame = trace == null || trace.getStackTrace().length == 0 ? null : trace.getStackTrace()[0].toString();
            return new LeakedDescriptor(site.count(), frame, site.firstAcquiredBy());
        }
    }

    /**
     * The registry's leak detection after a change.
     *
     * @param leakDetection        the level now
     * @param leakSamplingInterval the sampling interval now
     * @param message              what changed
     */
    public record LeakDetectionDescriptor(LeakDetection leakDetection, int leakSamplingInterval, String message)
            implements OperationResponseBody {
    }

    /**
     * The outcome of a kill.
     *
     * @param name    the name asked for
     * @param killed  whether this request killed the resource
     * @param state   the resource's state afterwards; {@code null} if there is no such resource
     * @param message what happened
     */
    public record KillDescriptor(String name, boolean killed, @Nullable RefState state, String message)
            implements OperationResponseBody {
    }
}
