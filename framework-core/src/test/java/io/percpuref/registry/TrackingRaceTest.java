package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Lease tracking racing the kill and runtime tuning, each trial from a common start (a barrier),
 * with the outcome that must never happen named on each test. A bounded stress test, not a model
 * checker: a pass is evidence, not proof; the argument is in {@link ManagedEntry#applySampling()}
 * (a kill's TRACK_FROM_KILL cannot be replaced by a CAS; each writer re-reads the latest setting).
 */
class TrackingRaceTest {

    private static final int TRIALS = 300;
    private static final int LEASES = 40;

    private final ExecutorService pool = Executors.newFixedThreadPool(3);
    /** The registry logs each tuning at INFO: thousands of lines here, so only warnings pass while this runs. */
    private final Logger registryLog = Logger.getLogger(RefRegistry.class.getName());
    private final Level registryLogLevel = registryLog.getLevel();

    @BeforeEach
    void quietTuningLog() {
        registryLog.setLevel(Level.WARNING);
    }

    @AfterEach
    void stopPool() {
        pool.shutdownNow();
        registryLog.setLevel(registryLogLevel);
    }

    /**
     * FORBIDDEN: a lease retained after kill() returned is untracked, or the dying resource's open
     * leases are counted differently from what was actually left open and tracked.
     */
    @Test
    void everyLeaseTakenAfterTheKillIsTrackedEvenWhileTheLevelIsTuned() throws Exception {
        for (int trial = 0; trial < TRIALS; trial++) {
            RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run)
                    .leakDetection(LeakDetection.DISABLED).build();
            ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
            Lease<TestResource> anchor = h.acquire();
            AtomicBoolean killReturned = new AtomicBoolean();
            CyclicBarrier start = new CyclicBarrier(3);

            CompletableFuture<List<Taken>> taker = CompletableFuture.supplyAsync(() -> {
                arrive(start);
                List<Taken> taken = new ArrayList<>();
                for (int i = 0; i < LEASES; i++) {
                    boolean afterKill = killReturned.get(); // read before the retain starts
                    taken.add(new Taken(anchor.retain(), afterKill));
                }
                return taken;
            }, pool);
            CompletableFuture<Void> killer = CompletableFuture.runAsync(() -> {
                arrive(start);
                h.kill();
                killReturned.set(true);
            }, pool);
            CompletableFuture<Void> tuner = CompletableFuture.runAsync(() -> {
                arrive(start);
                for (int i = 0; i < 10; i++) {
                    registry.setLeakDetection(i % 2 == 0 ? LeakDetection.SIMPLE : LeakDetection.DISABLED);
                }
            }, pool);

            List<Taken> taken = taker.get(10, TimeUnit.SECONDS);
            killer.get(10, TimeUnit.SECONDS);
            tuner.get(10, TimeUnit.SECONDS);

            long tracked = 0;
            for (Taken t : taken) {
                boolean isTracked = ((RefLease<?>) t.lease).leakRecord() != null;
                if (t.afterKill) {
                    assertThat(isTracked).as("trial %d: a lease retained after kill() returned", trial).isTrue();
                }
                tracked += isTracked ? 1 : 0;
            }
            assertThat(((ManagedEntry<?>) h).sampling()).as("trial %d", trial).isEqualTo(ManagedEntry.TRACK_FROM_KILL);
            OpenLeases open = h.info().openLeases().orElseThrow();
            assertThat(open.count()).as("trial %d", trial).isEqualTo(LEASES + 1);
            assertThat(open.holders().size() + open.moreHolders()).as("trial %d", trial).isEqualTo(tracked);
            assertThat(open.untracked()).as("trial %d", trial).isEqualTo(LEASES + 1 - tracked);

            taken.forEach(t -> t.lease.close());
            anchor.close();
            assertThat(registry.shutdown(Duration.ofSeconds(5)).isClean()).as("trial %d", trial).isTrue();
        }
    }

    /**
     * FORBIDDEN: once tunings and registrations racing them are over, a live resource tracks leases
     * at another rate than the registry's last setting (a stale rate written after the newest).
     */
    @Test
    void tuningRacingRegistrationsLeavesEveryLiveResourceAtTheLastSetting() throws Exception {
        for (int trial = 0; trial < TRIALS / 3; trial++) {
            RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();
            CyclicBarrier start = new CyclicBarrier(3);
            int finalInterval = 7 + trial;
            CompletableFuture<Void> registrar = CompletableFuture.runAsync(() -> {
                arrive(start);
                for (int i = 0; i < 20; i++) {
                    registry.register("r" + i, new TestResource(), TestResource::close);
                }
            }, pool);
            CompletableFuture<Void> levels = CompletableFuture.runAsync(() -> {
                arrive(start);
                for (int i = 0; i < 20; i++) {
                    registry.setLeakDetection(i % 2 == 0 ? LeakDetection.PARANOID : LeakDetection.SIMPLE);
                }
            }, pool);
            CompletableFuture<Void> intervals = CompletableFuture.runAsync(() -> {
                arrive(start);
                for (int i = 0; i < 20; i++) {
                    registry.setLeakSamplingInterval(i == 19 ? finalInterval : 2 + i);
                }
            }, pool);
            registrar.get(10, TimeUnit.SECONDS);
            levels.get(10, TimeUnit.SECONDS);
            intervals.get(10, TimeUnit.SECONDS);

            assertThat(registry.leakDetection()).isEqualTo(LeakDetection.SIMPLE);
            assertThat(registry.samplingRate()).isEqualTo(finalInterval);
            for (int i = 0; i < 20; i++) {
                ManagedEntry<?> e = (ManagedEntry<?>) registry.find("r" + i).orElseThrow();
                assertThat(e.sampling()).as("trial %d, resource r%d", trial, i).isEqualTo(finalInterval);
            }
            registry.shutdown(Duration.ZERO);
        }
    }

    private record Taken(Lease<TestResource> lease, boolean afterKill) {
    }

    private static void arrive(CyclicBarrier barrier) {
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("a trial thread did not arrive", e);
        }
    }
}
