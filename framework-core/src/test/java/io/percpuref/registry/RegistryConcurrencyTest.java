package io.percpuref.registry;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class RegistryConcurrencyTest {

    @Test
    void thousandsOfResourcesRegisterLeaseKillAndReleaseFromManyThreads() throws Exception {
        RefRegistry registry = RefRegistry.builder().build();
        int threads = 8;
        int perThread = 500;
        List<TestResource> resources = new ArrayList<>();
        for (int i = 0; i < threads * perThread; i++) {
            resources.add(new TestResource());
        }
        // Leases handed from one thread to another, to be closed there.
        ConcurrentLinkedQueue<Lease<TestResource>> handoff = new ConcurrentLinkedQueue<>();
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int base = t * perThread;
                workers.add(pool.submit(() -> {
                    start.await();
                    for (int i = base; i < base + perThread; i++) {
                        ManagedResource<TestResource> h = registry.register("res-" + i, resources.get(i), TestResource::close);
                        for (int k = 0; k < 4; k++) {
                            h.acquire().close();
                        }
                        handoff.add(h.acquire());
                        h.kill();
                        Lease<TestResource> foreign = handoff.poll();
                        if (foreign != null) {
                            foreign.close();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> w : workers) {
                w.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        for (Lease<TestResource> rest; (rest = handoff.poll()) != null; ) {
            rest.close();
        }

        await().until(() -> registry.releaseCount() == threads * perThread);
        assertThat(resources).allSatisfy(r -> assertThat(r.closes()).isEqualTo(1));
        assertThat(registry.snapshot()).isEmpty();
        assertThat(registry.killCount()).isEqualTo(threads * perThread);
        assertThat(registry.liveCount()).isZero();
        assertThat(registry.dyingCount()).isZero();
        assertThat(registry.rejectionCount()).isZero();
    }

    @Test
    void leasesRacingAKillEitherFailOrHoldOffTheRelease() throws Exception {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED).build();
        int rounds = 200;
        int acquirers = 3;
        AtomicInteger violations = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(acquirers);
        try {
            for (int round = 0; round < rounds; round++) {
                AtomicBoolean released = new AtomicBoolean();
                ManagedResource<AtomicBoolean> h = registry.register("race-" + round, released, r -> r.set(true));
                CyclicBarrier start = new CyclicBarrier(acquirers + 1);
                List<Future<?>> racers = new ArrayList<>();
                for (int a = 0; a < acquirers; a++) {
                    racers.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < 100; i++) {
                            var lease = h.tryAcquire();
                            if (lease.isEmpty()) {
                                return null;
                            }
                            if (lease.get().resource().get()) {
                                violations.incrementAndGet(); // released while a lease was open
                            }
                            lease.get().close();
                        }
                        return null;
                    }));
                }
                start.await();
                h.kill();
                for (Future<?> r : racers) {
                    r.get(10, TimeUnit.SECONDS);
                }
                h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }

        assertThat(violations).hasValue(0);
        assertThat(registry.shutdown(Duration.ZERO).isClean()).isTrue();
    }
}
