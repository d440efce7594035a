package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RegistryCloseTest {

    @Test
    void closeShutsTheRegistryDownAndReleasesEverything() {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h;
        try (RefRegistry registry = RefRegistry.builder().build()) {
            h = registry.register("r", resource, TestResource::close);
        }

        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void closeWaitsAtMostTheConfiguredShutdownTimeout() {
        RefRegistry registry = RefRegistry.builder().shutdownTimeout(Duration.ofMillis(100)).build();
        ManagedResource<TestResource> h = registry.register("held", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        long start = System.nanoTime();

        registry.close();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(registry.isShutdown()).isTrue();
        assertThat(h.state()).isEqualTo(RefState.DYING);
        lease.close();
    }

    @Test
    void closeAfterShutdownDoesNotWaitAgain() {
        RefRegistry registry = RefRegistry.builder().shutdownTimeout(Duration.ofSeconds(60)).build();
        ManagedResource<TestResource> h = registry.register("held", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        registry.shutdown(Duration.ZERO);
        long start = System.nanoTime();

        registry.close();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        lease.close();
    }

    @Test
    void theDefaultShutdownTimeoutIsThirtySeconds() {
        assertThat(RefRegistry.builder().build().shutdownTimeout()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void aNegativeShutdownTimeoutIsRejected() {
        assertThatThrownBy(() -> RefRegistry.builder().shutdownTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
    }

    @Test
    void aBlankRegistryNameIsRejected() {
        assertThatThrownBy(() -> RefRegistry.builder().name(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("registry name");
    }
}
