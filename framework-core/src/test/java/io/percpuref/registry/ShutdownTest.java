package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class ShutdownTest {

    /**
     * Direct executor: a release triggered by a lease's close happens in the closing thread; the
     * confirms and releases that shutdown() itself triggers run on the registry's hand-off threads.
     */
    private final RefRegistry registry = RefRegistry.builder()
            .callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.DISABLED)
            .build();

    @Test
    void shutdownReleasesEveryResourceAndReportsClean() {
        TestResource a = new TestResource();
        TestResource b = new TestResource();
        registry.register("a", a, TestResource::close);
        registry.register("b", b, TestResource::close);

        ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));

        assertThat(report.isClean()).isTrue();
        assertThat(report.released()).containsExactly("a", "b");
        assertThat(report.stragglers()).isEmpty();
        assertThat(a.closes()).isEqualTo(1);
        assertThat(b.closes()).isEqualTo(1);
    }

    @Test
    void shutdownKillsEveryResourceBeforeWaitingForAny() throws Exception {
        List<ManagedResource<TestResource>> handles = new ArrayList<>();
        List<Lease<TestResource>> leases = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            handles.add(h);
            leases.add(h.acquire());
        }

        CompletableFuture<ShutdownReport> shutdown = CompletableFuture.supplyAsync(
                () -> registry.shutdown(Duration.ofSeconds(30)));
        // Had shutdown killed one resource and waited for it before the next, this would time out.
        await().until(() -> handles.stream().allMatch(h -> h.state() == RefState.DYING));
        leases.forEach(Lease::close);

        assertThat(shutdown.get(30, TimeUnit.SECONDS).isClean()).isTrue();
    }

    @Test
    void shutdownReportsAStragglerWithItsInFlightCount() {
        ManagedResource<TestResource> h = registry.register("busy", new TestResource(), TestResource::close);
        h.acquire();
        h.acquire();
        registry.register("idle", new TestResource(), TestResource::close);

        ShutdownReport report = registry.shutdown(Duration.ofMillis(200));

        assertThat(report.isClean()).isFalse();
        assertThat(report.released()).containsExactly("idle");
        assertThat(report.stragglers()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("busy");
            assertThat(s.state()).isEqualTo(RefState.DYING);
            assertThat(s.inFlight()).isEqualTo(2);
            assertThat(s.dyingFor()).isPositive();
        });
    }

    @Test
    void shutdownReportsTheTrackedHoldersOfAStraggler() {
        RefRegistry paranoid = RefRegistry.builder().callbackExecutor(Runnable::run)
                .leakDetection(LeakDetection.PARANOID).build();
        ManagedResource<TestResource> h = paranoid.register("held", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();

        ShutdownReport report = paranoid.shutdown(Duration.ZERO);

        assertThat(report.holders("held")).singleElement().satisfies(holder -> {
            assertThat(holder.refName()).isEqualTo("held");
            assertThat(holder.acquiredBy()).isEqualTo(Thread.currentThread().getName());
            assertThat(holder.acquisitionTrace().getStackTrace()[0].getMethodName())
                    .isEqualTo("shutdownReportsTheTrackedHoldersOfAStraggler");
        });
        assertThat(report.toString()).contains("straggler 'held'", "1 in flight",
                "by thread '" + Thread.currentThread().getName() + "'",
                "ShutdownTest.shutdownReportsTheTrackedHoldersOfAStraggler");
        lease.close();
    }

    @Test
    void untrackedStragglersHaveNoHolders() {
        ManagedResource<TestResource> h = registry.register("held", new TestResource(), TestResource::close);
        h.acquire();

        ShutdownReport report = registry.shutdown(Duration.ZERO);

        assertThat(report.stragglers()).hasSize(1);
        assertThat(report.holders("held")).isEmpty();
    }

    @Test
    void shutdownWithAZeroTimeoutDoesNotWait() {
        ManagedResource<TestResource> h = registry.register("held", new TestResource(), TestResource::close);
        h.acquire();
        long start = System.nanoTime();

        ShutdownReport report = registry.shutdown(Duration.ZERO);

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
        assertThat(report.stragglers()).extracting(RefInfo::name).containsExactly("held");
        assertThat(h.state()).isEqualTo(RefState.DYING);
    }

    @Test
    void shutdownWithAZeroTimeoutKillsButLeavesTheReleaseToAnotherThread() {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        registry.shutdown(Duration.ZERO);

        assertThat(h.state()).isNotEqualTo(RefState.LIVE);
        await().until(() -> h.state() == RefState.RELEASED);
        assertThat(resource.closedOn()).isNotEqualTo(Thread.currentThread().getName());
    }

    @Test
    void aBlockingReleaseActionMakesAStragglerWithNothingInFlight() {
        RefRegistry pooled = RefRegistry.builder().build(); // the default pool: the action blocks a pool thread
        CountDownLatch unblock = new CountDownLatch(1);
        pooled.register("stuck-closing", new TestResource(), r -> unblock.await());

        ShutdownReport report = pooled.shutdown(Duration.ofMillis(200));

        assertThat(report.stragglers()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("stuck-closing");
            assertThat(s.inFlight()).isZero();
        });
        unblock.countDown();
    }

    @Test
    void aSecondShutdownReportsTheStragglersOfTheFirstAgain() {
        ManagedResource<TestResource> h = registry.register("late", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        registry.shutdown(Duration.ZERO);

        ShutdownReport second = registry.shutdown(Duration.ofMillis(50));

        assertThat(second.stragglers()).extracting(RefInfo::name).containsExactly("late");
        assertThat(second.stragglers().get(0).inFlight()).isEqualTo(1);
        lease.close();
    }

    @Test
    void aSecondShutdownAfterTheStragglersReleasedIsClean() {
        ManagedResource<TestResource> h = registry.register("late", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        ShutdownReport first = registry.shutdown(Duration.ZERO);
        lease.close();

        ShutdownReport second = registry.shutdown(Duration.ofSeconds(10));

        assertThat(first.isClean()).isFalse();
        assertThat(second.isClean()).isTrue();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
    }

    @Test
    void aSecondShutdownOfAnEmptyRegistryIsClean() {
        registry.shutdown(Duration.ZERO);

        ShutdownReport again = registry.shutdown(Duration.ZERO);

        assertThat(again.isClean()).isTrue();
        assertThat(again.released()).isEmpty();
    }

    @Test
    void shutdownMarksTheRegistryShutDown() {
        registry.shutdown(Duration.ZERO);

        assertThat(registry.isShutdown()).isTrue();
    }

    @Test
    void aNegativeTimeoutIsRejected() {
        assertThatThrownBy(() -> registry.shutdown(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("negative");
        assertThat(registry.isShutdown()).isFalse();
    }

    @Test
    void aNullTimeoutIsRejected() {
        assertThatThrownBy(() -> registry.shutdown(null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("timeout");
    }

    @Test
    void anEnormousTimeoutIsAccepted() {
        registry.register("r", new TestResource(), TestResource::close);

        assertThat(registry.shutdown(Duration.ofSeconds(Long.MAX_VALUE)).isClean()).isTrue();
    }

    @Test
    void shutdownStopsTheStuckDetectorThread() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire();
        h.kill(); // the first kill starts the detector
        assertThat(registry.stuckDetectorAlive()).isTrue();

        registry.shutdown(Duration.ZERO);

        await().until(() -> !registry.stuckDetectorAlive());
    }

    @Test
    void registrationsRacingShutdownLeaveNothingLive() throws Exception {
        int registrars = 4;
        List<CompletableFuture<Void>> running = new ArrayList<>();
        CountDownLatch started = new CountDownLatch(registrars);
        for (int t = 0; t < registrars; t++) {
            int id = t;
            running.add(CompletableFuture.runAsync(() -> {
                started.countDown();
                for (int i = 0; ; i++) {
                    try {
                        registry.register("t" + id + "-" + i, new TestResource(), TestResource::close);
                    } catch (IllegalStateException shutDown) {
                        return;
                    }
                }
            }, runnable -> new Thread(runnable, "registrar-" + id).start()));
        }
        started.await();

        registry.shutdown(Duration.ofSeconds(10));
        CompletableFuture.allOf(running.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);

        await().until(() -> registry.snapshot().isEmpty());
        assertThat(registry.liveCount()).isZero();
    }
}
