package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Who holds a dying resource: its open leases in {@link RefInfo#openLeases()}, in snapshots, in the
 * stuck event and in shutdown stragglers; "track from kill" (every lease a dying resource hands out
 * is tracked, the leases open before the kill are counted).
 */
class DyingHoldersTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();
    /** Leases kept open on purpose; closed after each test. */
    private final List<Lease<?>> kept = new ArrayList<>();

    private RefRegistry registry(LeakDetection detection) {
        RefRegistry registry = RefRegistry.builder().leakDetection(detection).build();
        registries.add(registry);
        return registry;
    }

    private <T> Lease<T> keep(Lease<T> lease) {
        kept.add(lease);
        return lease;
    }

    @AfterEach
    void shutDown() {
        kept.forEach(Lease::close); // before the registries are shut down (RegistriesShutDown)
    }

    @Test
    void aLiveResourceDescribesNoHolders() {
        ManagedResource<TestResource> h = registry(LeakDetection.PARANOID)
                .register("live", new TestResource(), TestResource::close);
        keep(h.acquire());

        assertThat(h.info().inFlight()).isEqualTo(1);
        assertThat(h.info().openLeases()).isEmpty();
    }

    @Test
    void aReleasedResourceDescribesNoHolders() {
        ManagedResource<TestResource> h = registry(LeakDetection.PARANOID)
                .register("gone", new TestResource(), TestResource::close);
        h.kill();
        h.released().toCompletableFuture().join();

        assertThat(h.info().state()).isEqualTo(RefState.RELEASED);
        assertThat(h.info().openLeases()).isEmpty();
    }

    @Test
    void withoutTrackingTheLeasesOpenAtTheKillAreCountedAsUntrackedAndAtLeastAsOldAsTheKill() {
        ManagedResource<TestResource> h = registry(LeakDetection.DISABLED)
                .register("channel", new TestResource(), TestResource::close);
        keep(h.acquire());
        keep(h.acquire());

        h.kill();
        await().until(() -> h.info().dyingFor().toMillis() >= 5);
        RefInfo info = h.info();

        assertThat(info.openLeases()).hasValueSatisfying(open -> {
            assertThat(open.state()).isEqualTo(RefState.DYING);
            assertThat(open.count()).isEqualTo(2);
            assertThat(open.holders()).isEmpty();
            assertThat(open.untracked()).isEqualTo(2);
            assertThat(open.oldestTracked()).isEmpty();
            assertThat(open.dyingFor()).isGreaterThanOrEqualTo(Duration.ofMillis(5));
            assertThat(open.toString()).containsPattern("2 open leases not tracked, opened before the kill, so held for at least PT0\\.[0-9]+S");
        });
    }

    @Test
    void inFlightOfADyingResourceIsExactWhileItsConfirmIsStillRunning() throws Exception {
        CountDownLatch inConfirm = new CountDownLatch(1);
        CountDownLatch confirmMayReturn = new CountDownLatch(1);
        RefRegistry registry = registry(LeakDetection.DISABLED);
        registry.addListener(new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                inConfirm.countDown(); // the confirm task has run the confirm; the initial reference is not dropped yet
                try {
                    confirmMayReturn.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        keep(h.acquire());
        h.kill();
        assertThat(inConfirm.await(10, TimeUnit.SECONDS)).isTrue();
        try {
            RefInfo info = h.info();

            assertThat(info.inFlight()).isEqualTo(1);
            assertThat(info.openLeases().orElseThrow().count()).isEqualTo(1);
        } finally {
            confirmMayReturn.countDown();
        }
    }

    @Test
    void aLeaseRetainedAfterTheKillIsTrackedWithThreadAgeAndSiteWhateverTheLevel() throws Exception {
        ManagedResource<TestResource> h = registry(LeakDetection.DISABLED)
                .register("channel", new TestResource(), TestResource::close);
        Lease<TestResource> before = keep(h.acquire());
        h.kill();

        ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "worker-9"));
        try {
            worker.submit(() -> keep(before.retain())).get(10, TimeUnit.SECONDS);
        } finally {
            worker.shutdown();
        }

        OpenLeases open = h.info().openLeases().orElseThrow();
        assertThat(open.count()).isEqualTo(2);
        assertThat(open.untracked()).isEqualTo(1);
        assertThat(open.holders()).singleElement().satisfies(holder -> {
            assertThat(holder.refName()).isEqualTo("channel");
            assertThat(holder.acquiredBy()).isEqualTo("worker-9");
            assertThat(holder.site()).hasValueSatisfying(site -> {
                assertThat(site.getClassName()).startsWith(DyingHoldersTest.class.getName());
            });
            assertThat(holder.acquisitionTrace().getStackTrace()[0]).isEqualTo(holder.site().orElseThrow());
        });
        assertThat(open.oldestTracked()).contains(open.holders().get(0).heldFor());
    }

    @Test
    void theAcquisitionSiteOfALeaseByNameIsTheCallerNotTheRegistry() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("by-name", new TestResource(), TestResource::close);
        keep(registry.acquire("by-name"));
        h.kill();

        LeaseHolder holder = h.info().openLeases().orElseThrow().holders().get(0);

        assertThat(holder.site().orElseThrow().getClassName()).isEqualTo(DyingHoldersTest.class.getName());
        assertThat(holder.site().orElseThrow().getMethodName())
                .isEqualTo("theAcquisitionSiteOfALeaseByNameIsTheCallerNotTheRegistry");
    }

    @Test
    void paranoidListsEveryHolderLongestHeldFirst() throws Exception {
        ManagedResource<TestResource> h = registry(LeakDetection.PARANOID)
                .register("r", new TestResource(), TestResource::close);
        keep(h.acquire());
        Thread.sleep(2);
        keep(h.acquire());
        h.kill();

        OpenLeases open = h.info().openLeases().orElseThrow();

        assertThat(open.untracked()).isZero();
        assertThat(open.holders()).hasSize(2);
        assertThat(open.holders().get(0).heldFor()).isGreaterThan(open.holders().get(1).heldFor());
        assertThat(open.oldestTracked()).contains(open.holders().get(0).heldFor());
    }

    @Test
    void theSnapshotDescribesTheHoldersOfDyingResourcesOnly() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> dying = registry.register("dying", new TestResource(), TestResource::close);
        ManagedResource<TestResource> live = registry.register("live", new TestResource(), TestResource::close);
        keep(dying.acquire());
        keep(live.acquire());
        dying.kill();

        List<RefInfo> snapshot = registry.snapshot();

        assertThat(snapshot).extracting(RefInfo::name).containsExactly("dying", "live");
        assertThat(snapshot.get(0).openLeases()).hasValueSatisfying(open -> assertThat(open.holders()).hasSize(1));
        assertThat(snapshot.get(1).openLeases()).isEmpty();
    }

    @Test
    void theStuckEventNamesTheHolders() {
        RecordingListener recorder = new RecordingListener();
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.PARANOID)
                .stuckThreshold(Duration.ofMillis(30)).build();
        registries.add(registry);
        registry.addListener(recorder);
        ManagedResource<TestResource> h = registry.register("stuck", new TestResource(), TestResource::close);
        keep(h.acquire());

        h.kill();

        await().until(() -> !recorder.stuck.isEmpty());
        OpenLeases open = recorder.stuck.get(0).openLeases().orElseThrow();
        assertThat(open.count()).isEqualTo(1);
        assertThat(open.holders()).singleElement()
                .satisfies(holder -> assertThat(holder.acquiredBy()).isEqualTo(Thread.currentThread().getName()));
    }

    @Test
    void eventsOtherThanStuckCarryNoHolders() {
        RecordingListener recorder = new RecordingListener();
        List<RefInfo> killed = new ArrayList<>();
        RefRegistry registry = registry(LeakDetection.PARANOID);
        registry.addListener(recorder);
        registry.addListener(new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                killed.add(info);
            }
        });
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        keep(h.acquire());

        h.kill();

        assertThat(killed).singleElement().satisfies(info -> {
            assertThat(info.state()).isEqualTo(RefState.DYING);
            assertThat(info.openLeases()).isEmpty();
        });
    }

    @Test
    void shutdownStragglersCarryTheirBoundedHoldersAndCountTheRest() {
        RefRegistry registry = registry(LeakDetection.PARANOID);
        ManagedResource<TestResource> h = registry.register("busy", new TestResource(), TestResource::close);
        for (int i = 0; i < OpenLeases.MAX_HOLDERS + 8; i++) {
            keep(h.acquire());
        }

        ShutdownReport report = registry.shutdown(Duration.ZERO);

        assertThat(report.holders("busy")).hasSize(OpenLeases.MAX_HOLDERS);
        assertThat(report.stragglers()).singleElement().satisfies(info -> {
            OpenLeases open = info.openLeases().orElseThrow();
            assertThat(open.count()).isEqualTo(OpenLeases.MAX_HOLDERS + 8);
            assertThat(open.moreHolders()).isEqualTo(8);
            assertThat(open.untracked()).isZero();
        });
        assertThat(report.toString()).contains("8 more tracked open leases (only the 32 longest held are listed)");
    }

    @Test
    void shutdownStragglersCountTheUntrackedLeasesOpenedBeforeTheKill() {
        RefRegistry registry = registry(LeakDetection.DISABLED);
        ManagedResource<TestResource> h = registry.register("busy", new TestResource(), TestResource::close);
        keep(h.acquire());

        ShutdownReport report = registry.shutdown(Duration.ZERO);

        assertThat(report.holders("busy")).isEmpty();
        assertThat(report.toString()).contains("straggler 'busy': DYING, 1 in flight")
                .contains("1 open lease not tracked, opened before the kill, so held for at least PT");
    }
}
