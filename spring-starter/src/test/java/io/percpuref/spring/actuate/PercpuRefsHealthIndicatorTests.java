package io.percpuref.spring.actuate;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class PercpuRefsHealthIndicatorTests {

    // Well above what kill() to health() can take on a loaded machine (100 ms was not: issue 16).
    private final RefRegistry registry = RefRegistry.builder().stuckThreshold(Duration.ofSeconds(2)).build();

    private final PercpuRefsHealthIndicator indicator = new PercpuRefsHealthIndicator(this.registry);

    @Test
    void upWithCountsWhileNothingIsStuck() {
        this.registry.register("a", new Object(), r -> { });
        Health health = this.indicator.health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("live", 1L).containsEntry("dying", 0L)
                .containsEntry("stuckThreshold", "PT2S").doesNotContainKey("stuck");
    }

    @Test
    void upWhileAResourceDrainsWithinTheThreshold() {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();
        assertThat(this.indicator.health().getStatus()).isEqualTo(Status.UP);
        lease.close();
    }

    @Test
    void upWithTheStuckResourceInTheDetailsByDefault() {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        this.registry.register("b", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();
        await().until(() -> this.indicator.health().getDetails().containsKey("stuck"));
        Health health = this.indicator.health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("live", 1L).containsEntry("dying", 1L);
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> stuck = (Map<String, Map<String, Object>>) health.getDetails().get("stuck");
        assertThat(stuck).containsOnlyKeys("a");
        assertThat(stuck.get("a")).containsEntry("inFlight", 1L).containsKey("dyingFor");
        lease.close();
        await().until(() -> !this.indicator.health().getDetails().containsKey("stuck"));
    }

    @Test
    void theConfiguredStatusWhileAResourceIsStuck() {
        PercpuRefsHealthIndicator outOfService = new PercpuRefsHealthIndicator(this.registry, Status.OUT_OF_SERVICE);
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        a.kill();
        assertThat(outOfService.health().getStatus()).isEqualTo(Status.UP);
        await().until(() -> outOfService.health().getStatus().equals(Status.OUT_OF_SERVICE));
        assertThat(outOfService.health().getDetails()).containsKey("stuck");
        lease.close();
        await().until(() -> outOfService.health().getStatus().equals(Status.UP));
    }
}
