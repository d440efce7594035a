package io.percpuref.spring.actuate;

import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code percpuRefs} health indicator. Details: the counts of live and dying resources, the
 * stuck threshold, and each stuck resource (dying for at least the registry's stuck threshold: a
 * lease that is never closed, a leak, a hung call) with its outstanding leases and time dying.
 *
 * <p>Status: {@code UP} while no resource is stuck; while one is, the configured stuck status,
 * {@code UP} by default ({@code percpu-ref.health.stuck-status}). A stuck resource is a leak to
 * investigate, not a reason to take the instance out of its load balancer: an instance whose
 * aggregated health turns {@code DOWN} answers 503 on {@code /actuator/health} and is pulled from
 * rotation, which does not unstick anything. Choose {@code OUT_OF_SERVICE} or {@code DOWN} where
 * that is what you want (for example in a readiness group of its own).
 *
 * <p>A resource counts as stuck here as soon as it has been dying for the threshold, read from a
 * {@link RefRegistry#snapshot()}; this does not depend on the registry's stuck detector, which
 * stops at shutdown.
 */
public class PercpuRefsHealthIndicator implements HealthIndicator {

    private final RefRegistry registry;
    /** The status while at least one resource is stuck. */
    private final Status stuckStatus;

    /**
     * An indicator that stays {@code UP} while resources are stuck (they are in its details).
     *
     * @throws NullPointerException if {@code registry} is null
     */
    public PercpuRefsHealthIndicator(RefRegistry registry) {
        this(registry, Status.UP);
    }

    /**
     * @param registry    the registry to report on
     * @param stuckStatus the status while at least one resource is stuck
     * @throws NullPointerException if an argument is null
     */
    public PercpuRefsHealthIndicator(RefRegistry registry, Status stuckStatus) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.stuckStatus = Objects.requireNonNull(stuckStatus, "stuckStatus");
    }

    @Override
    public Health health() {
        Duration threshold = this.registry.stuckThreshold();
        Map<String, Object> stuck = new LinkedHashMap<>();
        for (RefInfo info : this.registry.snapshot()) {
            if (info.state() != RefState.LIVE && info.dyingFor().compareTo(threshold) >= 0) { // DYING or RELEASING
                Map<String, Object> details = new LinkedHashMap<>();
                details.put("inFlight", info.inFlight());
                details.put("dyingFor", info.dyingFor().toString());
                stuck.put(info.name(), details);
            }
        }
        Health.Builder health = stuck.isEmpty() ? Health.up() : Health.status(this.stuckStatus);
        health.withDetail("live", this.registry.liveCount())
                .withDetail("dying", this.registry.dyingCount())
                .withDetail("stuckThreshold", threshold.toString());
        if (!stuck.isEmpty()) {
            health.withDetail("stuck", stuck);
        }
        return health.build();
    }
}
