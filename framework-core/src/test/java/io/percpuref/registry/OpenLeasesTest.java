package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@link RefRegistry#openLeases()} and {@link ManagedResource#openLeases()}: leak presence without the GC. */
class OpenLeasesTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();

    private RefRegistry registry(LeakDetection detection) {
        RefRegistry registry = RefRegistry.builder().leakDetection(detection).build();
        registries.add(registry);
        return registry;
    }

    /** Leases kept open on purpose; closed after each test. */
    private final List<Lease<?>> kept = new ArrayList<>();

    @AfterEach
    void shutDown() {
        kept.forEach(Lease::close); // before the registries are shut down (RegistriesShutDown)
    }

    @Test
    void aRegistryWithEveryLeaseClosedHasNoOpenLeases() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        h.acquire().close();

        assertThat(registry.openLeases()).isEmpty();
        assertThat(h.openLeases()).isEqualTo(new OpenLeases("r", RefState.LIVE, 0, List.of(), 0, List.of()));
        assertThat(h.openLeases().isEmpty()).isTrue();
    }

    @Test
    void openLeasesAreCountedPerResourceInNameOrder() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> b = registry.register("b", new TestResource(), TestResource::close);
        ManagedResource<TestResource> a = registry.register("a", new TestResource(), TestResource::close);
        registry.register("idle", new TestResource(), TestResource::close);
        Lease<TestResource> a1 = a.acquire();
        Lease<TestResource> a2 = a.acquire();
        Lease<TestResource> b1 = b.acquire();
        a.acquire().close();

        List<OpenLeases> open = registry.openLeases();

        assertThat(open).extracting(OpenLeases::refName, OpenLeases::state, OpenLeases::count)
                .containsExactly(
                        tuple("a", RefState.LIVE, 2L),
                        tuple("b", RefState.LIVE, 1L));
        List.of(a1, a2, b1).forEach(Lease::close);
        assertThat(registry.openLeases()).isEmpty();
    }

    @Test
    void paranoidNamesTheThreadAndTheAcquisitionSiteOfEachOpenLease() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("channel", new TestResource(), TestResource::close);
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "worker-7"));
        try {
            worker.submit(() -> acquireAndKeep(h)).get(10, TimeUnit.SECONDS);
        } finally {
            worker.shutdown();
        }

        OpenLeases open = h.openLeases();

        assertThat(open.count()).isEqualTo(1);
        assertThat(open.untracked()).isZero();
        assertThat(open.holders()).singleElement().satisfies(holder -> {
            assertThat(holder.refName()).isEqualTo("channel");
            assertThat(holder.acquiredBy()).isEqualTo("worker-7");
            assertThat(holder.heldFor()).isPositive();
            StackTraceElement site = holder.acquisitionTrace().getStackTrace()[0];
            assertThat(site.getClassName()).isEqualTo(OpenLeasesTest.class.getName());
            assertThat(site.getMethodName()).isEqualTo("acquireAndKeep");
        });
        assertThat(open.toString())
                .startsWith("resource 'channel' [LIVE]: 1 open lease\n  held for PT")
                .contains("by thread 'worker-7'\n    at " + OpenLeasesTest.class.getName() + ".acquireAndKeep(");
    }

    private Lease<?> acquireAndKeep(ManagedResource<?> h) {
        Lease<?> lease = h.acquire();
        synchronized (kept) {
            kept.add(lease);
        }
        return lease;
    }

    @Test
    void withLeakDetectionDisabledTheCountIsStillExactButNoLeaseIsTracked() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        for (int i = 0; i < 300; i++) {
            acquireAndKeep(h);
        }

        OpenLeases open = h.openLeases();

        assertThat(open.count()).isEqualTo(300);
        assertThat(open.holders()).isEmpty();
        assertThat(open.untracked()).isEqualTo(300);
        assertThat(open.toString()).isEqualTo("resource 'r' [LIVE]: 300 open leases\n  300 open leases not tracked"
                + " (leak detection tracks none with DISABLED, a sample with SIMPLE;"
                + " PARANOID tracks every lease with its thread and acquisition site)");
    }

    @Test
    void simpleCountsEveryOpenLeaseAndTracksASample() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.SIMPLE).leakSamplingInterval(4).build();
        registries.add(registry);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        for (int i = 0; i < 1000; i++) {
            acquireAndKeep(h);
        }

        OpenLeases open = h.openLeases();

        assertThat(open.count()).isEqualTo(1000);
        long tracked = open.holders().size() + open.moreHolders();
        assertThat(tracked).isBetween(1L, 999L);
        assertThat(open.holders()).hasSize((int) Math.min(tracked, OpenLeases.MAX_HOLDERS));
        assertThat(open.untracked()).isEqualTo(1000 - tracked);
    }

    @Test
    void retainedLeasesAreOpenLeasesToo() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        try (Lease<TestResource> lease = h.acquire()) {
            Lease<TestResource> part = lease.retain();

            assertThat(h.openLeases().count()).isEqualTo(2);
            assertThat(h.openLeases().holders()).hasSize(2);
            part.close();
        }
        assertThat(h.openLeases().count()).isZero();
    }

    @Test
    void aDyingResourceReportsTheLeasesThatHoldItUp() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.PARANOID)
                .callbackExecutor(Runnable::run).build();
        registries.add(registry);
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> lease = h.acquire();
        h.kill();

        assertThat(registry.openLeases()).singleElement().satisfies(open -> {
            assertThat(open.state()).isEqualTo(RefState.DYING);
            assertThat(open.count()).isEqualTo(1);
            assertThat(open.holders()).hasSize(1);
        });
        lease.close();
        assertThat(h.openLeases()).isEqualTo(new OpenLeases("r", RefState.RELEASED, 0, List.of(), 0, List.of()));
        assertThat(registry.openLeases()).isEmpty();
    }

    @Test
    void theCountIsExactRightAfterAnAsynchronousKillIsConfirmed() {
        // The default executor confirms on another thread, which drops the registration's reference
        // just after the confirm stage completes: the count must not include it, nor miss a lease.
        RefRegistry registry = registry(LeakDetection.DISABLED);
        for (int i = 0; i < 200; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            Lease<TestResource> lease = h.acquire();
            CompletableFuture<Void> confirmed = h.kill().toCompletableFuture();
            confirmed.join();

            assertThat(h.openLeases().count()).as("resource %s", h.name()).isEqualTo(1);
            lease.close();
            h.released().toCompletableFuture().join();
            assertThat(h.openLeases().count()).isZero();
        }
    }

    @Test
    void aKilledResourceWithNoLeaseHasNoneOpenWhileItsConfirmIsUnderWay() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        for (int i = 0; i < 200; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            h.kill();

            assertThat(h.openLeases().count()).as("resource %s", h.name()).isZero();
        }
    }

    @Test
    void aLeakedLeaseStaysOpenAndIsReportedByItsAcquisitionSite() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        Leaks.simulateCollection(h.acquire());
        await().until(() -> registry.leakCount() == 1);

        OpenLeases open = h.openLeases();

        assertThat(open.count()).isEqualTo(1);
        assertThat(open.holders()).isEmpty();
        assertThat(open.untracked()).isZero();
        assertThat(open.leakSites()).singleElement().satisfies(site -> {
            assertThat(site.count()).isEqualTo(1);
            assertThat(site.firstAcquiredBy()).isEqualTo(Thread.currentThread().getName());
        });
        assertThat(open.toString()).contains("1 leaked lease (garbage-collected without close()), the first by thread '"
                + Thread.currentThread().getName() + "'");
    }

    @Test
    void aReclaimedLeakIsNoLongerOpen() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.PARANOID).reclaimLeaks(true).build();
        registries.add(registry);
        ManagedResource<TestResource> h = registry.register("leaky", new TestResource(), TestResource::close);
        Leaks.simulateCollection(h.acquire());
        await().until(() -> registry.leakCount() == 1);

        assertThat(registry.openLeases()).isEmpty();
    }

    @Test
    void aNegativeCountIsRefusedWithTheResourceNamed() {
        assertThatThrownBy(() -> new OpenLeases("r", RefState.DYING, -1, List.of(), 0, List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("resource 'r' [DYING]: open lease count must not be negative, was -1");
    }

    @Test
    void aNegativeMoreHoldersIsRefusedWithTheResourceNamed() {
        assertThatThrownBy(() -> new OpenLeases("r", RefState.LIVE, 1, List.of(), -1, List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("resource 'r' [LIVE]: moreHolders must not be negative, was -1");
    }

    @Test
    void atMostMaxHoldersAreListedTheLongestHeldAndTheRestCounted() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("busy", new TestResource(), TestResource::close);
        for (int i = 0; i < OpenLeases.MAX_HOLDERS + 8; i++) {
            acquireAndKeep(h);
        }

        OpenLeases open = h.openLeases();

        assertThat(open.count()).isEqualTo(OpenLeases.MAX_HOLDERS + 8);
        assertThat(open.holders()).hasSize(OpenLeases.MAX_HOLDERS);
        assertThat(open.moreHolders()).isEqualTo(8);
        assertThat(open.untracked()).isZero();
        assertThat(open.holders()).extracting(LeaseHolder::heldFor).isSortedAccordingTo(Comparator.reverseOrder());
        assertThat(open.toString()).contains("\n  8 more tracked open leases (only the 32 longest held are listed)")
                .doesNotContain("not tracked");
    }
}
