package io.percpuref.spring;

import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code percpuRefs} health indicator: {@code UP} while no resource is stuck, {@code DOWN} when
 * at least one has been dying longer than the registry's stuck threshold (a lease that is never
 * closed: a leak, a hung call). Details: the counts of live and dying resources, the threshold,
 * and, when {@code DOWN}, each stuck resource with its outstanding leases and time dying.
 *
 * <p>A resource counts as stuck here as soon as it has been dying for the threshold, read from a
 * {@link RefRegistry#snapshot()}; this does not depend on the registry's stuck detector, which
 * stops at shutdown.
 */
public class PercpuRefsHealthIndicator implements HealthIndicator {

    private final RefRegistry registry;

    /** @throws NullPointerException if {@code registry} is null */
    public PercpuRefsHealthIndicator(RefRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
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
        Health.Builder health = stuck.isEmpty() ? Health.up() : Health.down();
        health.withDetail("live", this.registry.liveCount())
                .withDetail("dying", this.registry.dyingCount())
                .withDetail("stuckThreshold", threshold.toString());
        if (!stuck.isEmpty()) {
            health.withDetail("stuck", stuck);
        }
        return health.build();
    }
}
