package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A release action that fails or is still running is not a clean release: it shows in the
 * snapshot ({@link RefState#RELEASING}) and in the shutdown report.
 */
class ReleasingPhaseTest {

    private final CountDownLatch unblock = new CountDownLatch(1);
    private final RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();

    @AfterEach
    void unblockReleaseActions() {
        unblock.countDown();
    }

    @Test
    void aReleaseActionThatThrowsMakesTheShutdownUnclean() {
        IOException failure = new IOException("disk gone");
        registry.register("fails", new TestResource(), r -> {
            throw failure;
        });
        registry.register("fine", new TestResource(), TestResource::close);

        ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));

        assertThat(report.isClean()).isFalse();
        assertThat(report.released()).containsExactly("fails", "fine"); // RELEASED: the action ran
        assertThat(report.releaseFailures()).containsOnlyKeys("fails").containsEntry("fails", failure);
        assertThat(report.toString()).contains("release action of 'fails' failed: java.io.IOException: disk gone");
        assertThat(registry.releaseFailureCount()).isEqualTo(1);
    }

    @Test
    void aRunningReleaseActionShowsAsReleasingInTheSnapshot() {
        ManagedResource<TestResource> h = registry.register("closing", new TestResource(), r -> unblock.await());

        h.kill();

        await().until(() -> h.state() == RefState.RELEASING);
        assertThat(registry.snapshot()).singleElement().satisfies(info -> {
            assertThat(info.state()).isEqualTo(RefState.RELEASING);
            assertThat(info.inFlight()).isZero();
        });
        unblock.countDown();
        await().until(() -> h.state() == RefState.RELEASED);
    }

    @Test
    void aBlockedReleaseActionIsAReleasingStragglerNotALeaseHolder() {
        ManagedResource<TestResource> h = registry.register("closing", new TestResource(), r -> unblock.await());
        h.kill();
        await().until(() -> h.state() == RefState.RELEASING);

        ShutdownReport report = registry.shutdown(Duration.ofMillis(50));

        assertThat(report.isClean()).isFalse();
        assertThat(report.stragglers()).singleElement().satisfies(s -> {
            assertThat(s.state()).isEqualTo(RefState.RELEASING);
            assertThat(s.inFlight()).isZero();
        });
        assertThat(report.toString()).contains("straggler 'closing': RELEASING (release action running)");
    }

    @Test
    void aReleasingResourceRefusesLeases() {
        ManagedResource<TestResource> h = registry.register("closing", new TestResource(), r -> unblock.await());
        h.kill();
        await().until(() -> h.state() == RefState.RELEASING);

        assertThat(h.tryAcquire()).isEmpty();
    }

    @Test
    void aReleaseActionBlockedPastTheThresholdIsStuck() {
        RefRegistry quick = RefRegistry.builder().stuckThreshold(Duration.ofMillis(50)).build();
        ManagedResource<TestResource> h = quick.register("closing", new TestResource(), r -> unblock.await());

        h.kill();

        await().until(() -> quick.stuckCount() == 1);
        assertThat(h.state()).isEqualTo(RefState.RELEASING);
    }
}
