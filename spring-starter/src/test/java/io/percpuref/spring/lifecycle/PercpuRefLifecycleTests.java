package io.percpuref.spring.lifecycle;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import io.percpuref.registry.ShutdownReport;
import org.junit.jupiter.api.Test;
import org.springframework.boot.web.server.context.WebServerApplicationContext;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class PercpuRefLifecycleTests {

    private final RefRegistry registry = RefRegistry.builder().build();

    @Test
    void defaultPhaseIsAfterTheWebServersGracefulShutdownAndBeforeItStops() {
        // Lifecycles stop in descending phase order.
        assertThat(PercpuRefLifecycle.DEFAULT_PHASE)
                .isLessThan(WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE)
                .isGreaterThan(WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE)
                .isEqualTo(Integer.MAX_VALUE - 1536);
    }

    @Test
    void asynchronousStopKillsWaitsAndThenCallsBack() throws Exception {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        PercpuRefLifecycle lifecycle = new PercpuRefLifecycle(this.registry, Duration.ofSeconds(10), 0);
        lifecycle.start();
        CountDownLatch stopped = new CountDownLatch(1);
        lifecycle.stop(stopped::countDown);
        assertThat(lifecycle.isRunning()).isFalse();
        await().until(() -> a.state() == RefState.DYING);
        assertThat(stopped.await(200, TimeUnit.MILLISECONDS)).as("waits for the lease").isFalse();
        lease.close();
        assertThat(stopped.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(a.state()).isEqualTo(RefState.RELEASED);
    }

    @Test
    void drainReportsStragglersAfterTheTimeout() {
        ManagedResource<Object> a = this.registry.register("a", new Object(), r -> { });
        Lease<Object> lease = a.acquire();
        ShutdownReport report = new PercpuRefLifecycle(this.registry, Duration.ofMillis(50), 0).drain();
        assertThat(report.stragglers()).extracting(info -> info.name()).containsExactly("a");
        lease.close();
    }

    @Test
    void negativeTimeoutIsRejected() {
        assertThatThrownBy(() -> new PercpuRefLifecycle(this.registry, Duration.ofSeconds(-1), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-1S");
    }
}
