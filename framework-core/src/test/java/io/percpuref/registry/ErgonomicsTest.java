package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** tryKill(), typed find(), and retain() from a held lease. */
class ErgonomicsTest {

    private final RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.PARANOID).build();

    @Test
    void tryKillKillsALiveResourceOnce() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        assertThat(h.tryKill()).hasValueSatisfying(confirmed ->
                assertThat(confirmed.toCompletableFuture()).isCompleted());
        assertThat(h.tryKill()).isEmpty();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(registry.killCount()).isEqualTo(1);
    }

    @Test
    void concurrentTryKillsElectExactlyOneKiller() throws Exception {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        int threads = 4;
        CyclicBarrier start = new CyclicBarrier(threads);
        AtomicInteger winners = new AtomicInteger();
        List<CompletableFuture<Void>> racers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            racers.add(CompletableFuture.runAsync(() -> {
                try {
                    start.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                if (h.tryKill().isPresent()) {
                    winners.incrementAndGet();
                }
            }, r -> new Thread(r).start()));
        }

        CompletableFuture.allOf(racers.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);

        assertThat(winners).hasValue(1);
    }

    @Test
    void acquireByNameLeasesALiveResourceAndCountsEveryRefusalKnownNameOrNot() {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("by-name", resource, TestResource::close);

        try (Lease<?> lease = registry.acquire("by-name")) {
            assertThat(lease.resource()).isSameAs(resource);
        }
        assertThatThrownBy(() -> registry.acquire("nobody"))
                .isInstanceOfSatisfying(io.percpuref.ResourceUnavailableException.class, e -> {
                    assertThat(e.resourceState()).isEqualTo("RELEASED");
                    assertThat(e.getMessage()).contains("nobody");
                });
        h.kill();
        assertThatThrownBy(() -> registry.acquire("by-name"))
                .isInstanceOf(io.percpuref.ResourceUnavailableException.class);

        assertThat(registry.rejectionCount()).isEqualTo(2);
        assertThatThrownBy(() -> registry.acquire(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("name");
    }

    @Test
    void findWithATypeReturnsATypedHandle() {
        registry.register("r", new TestResource(), TestResource::close);

        assertThat(registry.find("r", TestResource.class)).hasValueSatisfying(h -> {
            try (Lease<TestResource> lease = h.acquire()) {
                assertThat(lease.resource().closes()).isZero();
            }
        });
        assertThat(registry.find("absent", TestResource.class)).isEmpty();
    }

    @Test
    void findWithTheWrongTypeNamesTheResourceAndBothTypes() {
        registry.register("r", new TestResource(), TestResource::close);

        assertThatThrownBy(() -> registry.find("r", String.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("resource 'r' [LIVE]")
                .hasMessageContaining(TestResource.class.getName())
                .hasMessageContaining("java.lang.String");
    }

    @Test
    void retainTakesAnotherLeaseEvenWhileTheResourceIsDying() {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);
        Lease<TestResource> first = h.acquire();
        h.kill();
        assertThat(h.tryAcquire()).isEmpty();

        Lease<TestResource> second = first.retain();
        first.close();

        assertThat(h.state()).isEqualTo(RefState.DYING);
        assertThat(second.resource()).isSameAs(resource);
        second.close();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void aRetainedLeaseIsTrackedAndClosedIndependently() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> first = h.acquire();

        Lease<TestResource> second = first.retain();
        second.close();
        second.close();

        assertThat(h.info().inFlight()).isEqualTo(1);
        first.close();
        assertThat(h.info().inFlight()).isZero();
    }

    @Test
    void retainOnAClosedLeaseIsRefusedWithNameAndState() {
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        lease.close();

        assertThatThrownBy(lease::retain)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("resource 'r' [LIVE]")
                .hasMessageContaining("closed");
    }

    @Test
    void retainFansOutAsyncWorkThatKeepsTheResourceUntilTheLastPartCloses() {
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        try (Lease<TestResource> lease = h.acquire()) {
            for (int i = 0; i < 8; i++) {
                Lease<TestResource> part = lease.retain();
                parts.add(CompletableFuture.runAsync(() -> {
                    try (part) {
                        part.resource();
                    }
                }));
            }
            h.kill();
        }

        CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).join();
        await().until(() -> h.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }
}
