package io.percpuref.registry;

import io.percpuref.CapturedLog;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.logging.Level;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class StuckDetectionTest {

    private final RecordingListener recorder = new RecordingListener();
    private final RefRegistry registry = RefRegistry.builder().stuckThreshold(Duration.ofMillis(50)).build();

    StuckDetectionTest() {
        registry.addListener(recorder);
    }

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    @Test
    void aResourceDyingLongerThanTheThresholdIsReportedStuck() {
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        h.acquire();

        h.kill();

        await().until(() -> !recorder.stuck.isEmpty());
        assertThat(recorder.stuck).singleElement().satisfies(info -> {
            assertThat(info.name()).isEqualTo("stuck");
            assertThat(info.state()).isEqualTo(RefState.DYING);
            assertThat(info.inFlight()).isEqualTo(1);
            assertThat(info.dyingFor()).isGreaterThanOrEqualTo(Duration.ofMillis(50));
        });
    }

    @Test
    void aStuckResourceIsCounted() {
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        h.acquire();

        h.kill();

        await().until(() -> registry.stuckCount() == 1);
    }

    @Test
    void aStuckResourceIsReportedOnlyOnce() {
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        h.acquire();
        h.kill();

        await().until(() -> recorder.stuck.size() == 1);

        await().during(Duration.ofMillis(300)).until(() -> recorder.stuck.size() == 1 && registry.stuckCount() == 1);
    }

    @Test
    void aStuckResourceIsUncountedWhenItIsReleased() throws Exception {
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        h.kill();
        await().until(() -> registry.stuckCount() == 1);

        lease.close();
        h.released().toCompletableFuture().get();

        assertThat(registry.stuckCount()).isZero();
    }

    @Test
    void aResourceReleasedWithinTheThresholdIsNeverStuck() {
        // Direct executor: the release happens inside kill(), well within the threshold however busy the machine is.
        RefRegistry inline = RefRegistry.builder().callbackExecutor(Runnable::run)
                .stuckThreshold(Duration.ofMillis(50)).build();
        inline.addListener(recorder);
        ManagedResource<TestResource> h = inline.register("quick", new TestResource(), TestResource::close);

        h.kill();

        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        await().during(Duration.ofMillis(200)).until(() -> recorder.stuck.isEmpty() && inline.stuckCount() == 0);
        inline.shutdown(Duration.ZERO);
    }

    @Test
    void aLiveResourceIsNeverStuck() {
        RefRegistry fresh = RefRegistry.builder().stuckThreshold(Duration.ofMillis(10)).build();
        fresh.addListener(recorder);
        fresh.register("live", new TestResource(), TestResource::close);

        await().during(Duration.ofMillis(100)).until(() -> recorder.stuck.isEmpty());
        assertThat(fresh.stuckDetectorAlive()).isFalse(); // never started: nothing was killed
    }

    @Test
    void aZeroThresholdIsRejected() {
        assertThatThrownBy(() -> RefRegistry.builder().stuckThreshold(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positive");
    }

    @Test
    void aNegativeThresholdIsRejected() {
        assertThatThrownBy(() -> RefRegistry.builder().stuckThreshold(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positive");
    }

    @Test
    void aThrowingStuckListenerDoesNotStopOthers() {
        RefRegistry fresh = RefRegistry.builder().stuckThreshold(Duration.ofMillis(20)).build();
        fresh.addListener(new RefListener() {
            @Override
            public void onStuck(RefInfo info) {
                throw new IllegalStateException("listener bug");
            }
        });
        fresh.addListener(recorder);
        ManagedResource<TestResource> h = fresh.register("stuck", new TestResource(), TestResource::close);
        h.acquire();

        h.kill();

        await().until(() -> recorder.stuck.size() == 1);
        assertThat(fresh.stuckCount()).isEqualTo(1);
        fresh.shutdown(Duration.ZERO);
    }

    @Test
    void theStuckWarningNamesTheThreadAndSiteOfEachTrackedHolder() {
        try (CapturedLog log = CapturedLog.of(RefRegistry.class,
                r -> r.getLevel() == Level.WARNING && r.getMessage().contains("is stuck"))) {
            RefRegistry paranoid = RefRegistry.builder().name("stuck-holders").leakDetection(LeakDetection.PARANOID)
                    .stuckThreshold(Duration.ofMillis(50)).build();
            ManagedResource<TestResource> h = paranoid.register("held", new TestResource(), TestResource::close);
            Lease<TestResource> lease = h.acquire();
            h.kill();

            await().until(() -> !log.messages().isEmpty());
            assertThat(log.messages().get(0))
                    .startsWith("resource 'held' [DYING] is stuck: dying for PT")
                    .contains(" with 1 lease(s) in flight; held by:\nresource 'held' [DYING]: 1 open lease\n  held for PT")
                    .contains("by thread '" + Thread.currentThread().getName() + "'\n    at "
                            + StuckDetectionTest.class.getName() + ".theStuckWarningNamesTheThreadAndSiteOfEachTrackedHolder(");
            lease.close();
            paranoid.shutdown(Duration.ZERO);
        }
    }

    @Test
    void withoutTrackedHoldersTheStuckWarningCountsTheLeasesOpenedBeforeTheKill() {
        try (CapturedLog log = CapturedLog.of(RefRegistry.class,
                r -> r.getLevel() == Level.WARNING && r.getMessage().contains("'untracked' [DYING] is stuck"))) {
            RefRegistry disabled = RefRegistry.builder().name("stuck-untracked").leakDetection(LeakDetection.DISABLED)
                    .stuckThreshold(Duration.ofMillis(50)).build();
            ManagedResource<TestResource> h = disabled.register("untracked", new TestResource(), TestResource::close);
            Lease<TestResource> lease = h.acquire();
            h.kill();

            await().until(() -> !log.messages().isEmpty());
            assertThat(log.messages().get(0)).matches("resource 'untracked' \\[DYING] is stuck: dying for PT[0-9.]+S"
                    + " \\(threshold PT0\\.05S\\) with 1 lease\\(s\\) in flight; held by:\n"
                    + "resource 'untracked' \\[DYING]: 1 open lease\n"
                    + "  1 open lease not tracked, opened before the kill, so held for at least PT[0-9.]+S \\(.*\\)");
            lease.close();
            disabled.shutdown(Duration.ZERO);
        }
    }
}
