package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Leak detection through the real path: the GC finds the dropped lease and enqueues its record.
 * These tests therefore depend on {@code System.gc()} being honoured (they time out under
 * {@code -XX:+DisableExplicitGC} or a collector that ignores it); the tests that must not, simulate
 * the collection instead ({@link Leaks#simulateCollection}, used by {@link LeakFloodTest} and
 * {@link CallbackIsolationTest}).
 */
class LeakDetectionTest {

    private final RecordingListener recorder = new RecordingListener();

    private RefRegistry registry(LeakDetection detection, boolean reclaim) {
        RefRegistry registry = RefRegistry.builder().leakDetection(detection).reclaimLeaks(reclaim).build();
        registry.addListener(recorder);
        return registry;
    }

    /** Acquires a lease and drops it without closing it. */
    private static void leakALease(ManagedResource<?> resource) {
        resource.acquire();
    }

    /** Runs the GC until {@code registry} has counted {@code leaks} leaks. */
    private static void collectUntilLeaks(RefRegistry registry, long leaks) {
        await().until(() -> {
            System.gc();
            return registry.leakCount() >= leaks;
        });
    }

    @Test
    void paranoidReportsALeakedLeaseWithItsResourceAndThread() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);

        leakALease(h);
        collectUntilLeaks(registry, 1);

        await().until(() -> !recorder.leaks.isEmpty());
        assertThat(recorder.leaks).singleElement().satisfies(leak -> {
            assertThat(leak.refName()).isEqualTo("leaky");
            assertThat(leak.acquiredBy()).isEqualTo(Thread.currentThread().getName());
            assertThat(leak.reclaimed()).isFalse();
        });
    }

    @Test
    void aLeakReportsWhereTheLeaseWasAcquired() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);

        leakALease(h);
        collectUntilLeaks(registry, 1);

        await().until(() -> !recorder.leaks.isEmpty());
        StackTraceElement top = recorder.leaks.get(0).acquisitionTrace().getStackTrace()[0];
        assertThat(top.getClassName()).isEqualTo(LeakDetectionTest.class.getName());
        assertThat(top.getMethodName()).isEqualTo("leakALease");
    }

    @Test
    void leaksAreCounted() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);

        leakALease(h);
        leakALease(h);
        collectUntilLeaks(registry, 2);

        assertThat(registry.leakCount()).isEqualTo(2);
    }

    @Test
    void closedLeasesAreNeverReportedAsLeaks() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("tidy", new TestResource(), TestResource::close);
        for (int i = 0; i < 1_000; i++) {
            h.acquire().close();
        }

        leakALease(h); // a marker: once it is reported, the closed leases have been collected too
        collectUntilLeaks(registry, 1);
        System.gc();

        await().during(Duration.ofMillis(200)).until(() -> registry.leakCount() == 1);
    }

    @Test
    void anUnreclaimedLeakKeepsTheResourceDying() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        leakALease(h);
        h.kill();

        collectUntilLeaks(registry, 1);

        assertThat(h.state()).isEqualTo(RefState.DYING);
        assertThat(h.info().inFlight()).isEqualTo(1);
    }

    @Test
    void anUnreclaimedLeakShowsAsALeakedHolderAtShutdown() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        leakALease(h);
        collectUntilLeaks(registry, 1);

        ShutdownReport report = registry.shutdown(Duration.ofMillis(50));

        assertThat(report.holders("leaky")).isEmpty();
        assertThat(report.leakSites("leaky")).singleElement().satisfies(site -> assertThat(site.count()).isEqualTo(1));
        assertThat(report.toString()).contains("1 leaked lease (never closed)");
    }

    @Test
    void reclaimLeaksPutsTheLeakedReferenceBackSoTheResourceIsReleased() {
        RefRegistry registry = registry(LeakDetection.PARANOID, true);
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("leaky", resource, TestResource::close);
        leakALease(h);
        h.kill();

        collectUntilLeaks(registry, 1);

        await().until(() -> h.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
        assertThat(recorder.leaks).singleElement().satisfies(leak -> assertThat(leak.reclaimed()).isTrue());
    }

    @Test
    void reclaimLeaksUnblocksAShutdown() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID, true);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        leakALease(h);

        CompletableFuture<ShutdownReport> shutdown = CompletableFuture.supplyAsync(
                () -> registry.shutdown(Duration.ofSeconds(30)));
        collectUntilLeaks(registry, 1);

        assertThat(shutdown.get(30, TimeUnit.SECONDS).released()).containsExactly("leaky");
    }

    @Test
    void simpleTracksAboutOneLeaseIn128() {
        RefRegistry registry = registry(LeakDetection.SIMPLE, false);
        ManagedResource<TestResource> h = registry.register("sampled", new TestResource(), TestResource::close);
        List<Lease<TestResource>> open = new ArrayList<>();
        for (int i = 0; i < 128 * 100; i++) {
            open.add(h.acquire());
        }

        // The report lists at most OpenLeases.MAX_HOLDERS holders and counts the other tracked ones.
        OpenLeases holders = registry.shutdown(Duration.ZERO).stragglers().get(0).openLeases().orElseThrow();
        long tracked = holders.holders().size() + holders.moreHolders();

        // Binomial(12800, 1/128): mean 100, standard deviation ~10.
        assertThat(tracked).isBetween(40L, 200L);
        open.forEach(Lease::close);
    }

    @Test
    void theSamplingIntervalIsConfigurable() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.SIMPLE).leakSamplingInterval(1).build();
        ManagedResource<TestResource> h = registry.register("all", new TestResource(), TestResource::close);
        List<Lease<TestResource>> open = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            open.add(h.acquire());
        }

        assertThat(registry.shutdown(Duration.ZERO).holders("all")).hasSize(10);
        open.forEach(Lease::close);
    }

    @Test
    void paranoidTracksEveryLease() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("all", new TestResource(), TestResource::close);
        List<Lease<TestResource>> open = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            open.add(h.acquire());
        }

        assertThat(registry.shutdown(Duration.ZERO).holders("all")).hasSize(10);
        open.forEach(Lease::close);
    }

    @Test
    void disabledTracksNothing() {
        RefRegistry registry = registry(LeakDetection.DISABLED, false);
        ManagedResource<TestResource> h = registry.register("none", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();

        assertThat(registry.shutdown(Duration.ZERO).holders("none")).isEmpty();
        lease.close();
    }

    @Test
    void aClosedTrackedLeaseLeavesTheHolders() {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> closed = h.acquire();
        Lease<TestResource> open = h.acquire();
        closed.close();

        assertThat(registry.shutdown(Duration.ZERO).holders("r")).hasSize(1);
        open.close();
    }

    @Test
    void theSamplingIntervalMustBePositive() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RefRegistry.builder().leakSamplingInterval(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0");
    }
}
