package io.percpuref.registry;

import io.percpuref.PercpuRefException;
import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The registry's own races, each run many times from a common start (a barrier), with the outcome
 * that must never happen named on each test. A targeted stress test, not a model checker: it finds
 * an interleaving only if the scheduler produces it, so a pass is evidence, not proof. The
 * arguments these races rest on are in the class comments of {@link RefRegistry} (register vs
 * shutdown, a Dekker pattern over the volatile flag and the map) and {@link LeakRecord} (close vs
 * leak collection, one CAS).
 */
class RegistryRaceTest {

    private static final int TRIALS = 500;

    private final ExecutorService pool = Executors.newFixedThreadPool(2);

    /** FORBIDDEN: register() returns a handle that stays LIVE after shutdown() returned. */
    @Test
    void registerRacingShutdownNeverLeavesALiveResource() throws Exception {
        try {
            for (int trial = 0; trial < TRIALS; trial++) {
                RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run)
                        .leakDetection(LeakDetection.DISABLED).build();
                CyclicBarrier start = new CyclicBarrier(2);
                CompletableFuture<ManagedResource<TestResource>> registered = CompletableFuture.supplyAsync(() -> {
                    arrive(start);
                    try {
                        return registry.register("r", new TestResource(), TestResource::close);
                    } catch (IllegalStateException shutDown) {
                        return null;
                    }
                }, pool);
                CompletableFuture<ShutdownReport> report = CompletableFuture.supplyAsync(() -> {
                    arrive(start);
                    return registry.shutdown(Duration.ZERO);
                }, pool);

                ManagedResource<TestResource> h = registered.get(10, TimeUnit.SECONDS);
                report.get(10, TimeUnit.SECONDS);

                if (h != null) {
                    assertThat(h.state()).as("trial %d", trial).isNotEqualTo(RefState.LIVE);
                    assertThat(h.tryAcquire()).as("trial %d", trial).isEmpty();
                }
                assertThat(registry.liveCount()).as("trial %d", trial).isZero();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * FORBIDDEN: a lease's reference put twice (once by close(), once by the leak path reclaiming
     * it), or never; either shows as an over-put, a release that runs twice or not at all.
     */
    @Test
    void closingALeaseRacingItsLeakCollectionPutsExactlyOnce() throws Exception {
        try {
            for (int trial = 0; trial < TRIALS; trial++) {
                List<PercpuRefException> errors = new CopyOnWriteArrayList<>();
                RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run)
                        .leakDetection(LeakDetection.PARANOID).reclaimLeaks(true).errorReporter(errors::add).build();
                TestResource resource = new TestResource();
                ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);
                Lease<TestResource> lease = h.acquire();
                CyclicBarrier start = new CyclicBarrier(2);
                CompletableFuture<Void> close = CompletableFuture.runAsync(() -> {
                    arrive(start);
                    lease.close();
                }, pool);
                CompletableFuture<Void> collect = CompletableFuture.runAsync(() -> {
                    arrive(start);
                    Leaks.simulateCollection(lease); // as if the GC found the lease unreachable mid-close
                }, pool);
                CompletableFuture.allOf(close, collect).get(10, TimeUnit.SECONDS);

                h.kill();

                await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
                        .until(() -> h.state() == RefState.RELEASED);
                long leaks = registry.leakCount();
                assertThat(leaks).as("trial %d", trial).isBetween(0L, 1L);
                assertThat(resource.closes()).as("trial %d", trial).isEqualTo(1);
                assertThat(errors).as("trial %d", trial).isEmpty();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** FORBIDDEN: an acquire that starts after kill() returned gets a lease (the kill is linearizable). */
    @Test
    void noAcquireStartedAfterKillReturnedSucceeds() throws Exception {
        try {
            for (int trial = 0; trial < TRIALS; trial++) {
                RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();
                ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
                CyclicBarrier start = new CyclicBarrier(2);
                AtomicReference<Boolean> killReturned = new AtomicReference<>(false);
                CompletableFuture<Void> killer = CompletableFuture.runAsync(() -> {
                    arrive(start);
                    h.kill();
                    killReturned.set(true);
                }, pool);
                CompletableFuture<Boolean> lateSuccess = CompletableFuture.supplyAsync(() -> {
                    arrive(start);
                    for (;;) {
                        boolean afterKill = killReturned.get();
                        try {
                            h.acquire().close();
                        } catch (ResourceUnavailableException refused) {
                            return false;
                        }
                        if (afterKill) {
                            return true;
                        }
                    }
                }, pool);

                killer.get(10, TimeUnit.SECONDS);
                assertThat(lateSuccess.get(10, TimeUnit.SECONDS)).as("trial %d", trial).isFalse();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void arrive(CyclicBarrier barrier) {
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
