package io.percpuref.spring.actuate;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.Access;
import org.springframework.boot.actuate.endpoint.OperationResponseBody;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

import java.util.List;
import java.util.Objects;

/**
 * The {@code percpurefs} actuator endpoint: the registry's resources, one resource by name, and a
 * kill by name. Like every endpoint it is reachable over HTTP (or JMX) only where the application
 * exposes it, for example {@code management.endpoints.web.exposure.include=health,percpurefs}.
 *
 * <p>Its default access is {@link Access#READ_ONLY}: the kill, which closes a resource of the
 * running application, is there only after an explicit opt-in,
 * {@code management.endpoint.percpurefs.access=unrestricted} (as Spring Boot keeps its
 * {@code shutdown} endpoint off by default). Secure it like any actuator write operation.
 *
 * <ul>
 *   <li>{@code GET /actuator/percpurefs}: counts and every live and dying resource;</li>
 *   <li>{@code GET /actuator/percpurefs/{name}}: one resource, 404 if none has that name;</li>
 *   <li>{@code POST /actuator/percpurefs/{name}} (with unrestricted access only): kills it (new leases are refused at once; it is
 *   released, and closed, when its last lease closes) and reports what happened.</li>
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
        List<RefDescriptor> refs = this.registry.snapshot().stream().map(RefDescriptor::of).toList();
        return new RefsDescriptor(this.registry.liveCount(), this.registry.dyingCount(), this.registry.stuckCount(),
                this.registry.stuckThreshold().toString(), refs);
    }

    /** The live or dying resource named {@code name}; {@code null} (404) if there is none. */
    @ReadOperation
    public @Nullable RefDescriptor ref(@Selector String name) {
        return this.registry.find(name).map(r -> RefDescriptor.of(r.info())).orElse(null);
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
     * @param refs           every live and dying resource, in name order
     */
    public record RefsDescriptor(long live, long dying, long stuck, String stuckThreshold, List<RefDescriptor> refs)
            implements OperationResponseBody {
    }

    /**
     * One resource.
     *
     * @param name     its registered name
     * @param state    {@code LIVE}, {@code DYING} or {@code RELEASED}
     * @param inFlight approximately how many leases are outstanding
     * @param age      time since registration
     * @param dyingFor time since the kill ({@code PT0S} while live)
     */
    public record RefDescriptor(String name, RefState state, long inFlight, String age, String dyingFor)
            implements OperationResponseBody {

        static RefDescriptor of(RefInfo info) {
            return new RefDescriptor(info.name(), info.state(), info.inFlight(), info.age().toString(),
                    info.dyingFor().toString());
        }
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
