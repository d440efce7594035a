package io.percpuref.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Stuck detection is one sweep per registry, not one scheduled check per kill (issues 10 and 15: a
 * schedule per kill woke the detector thread on every kill): kills append to a FIFO, one check at
 * most is pending, and a release cancels nothing.
 */
class StuckSweepTest {

    private final RecordingListener recorder = new RecordingListener();
    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();

    private RefRegistry registry(Duration threshold) {
        return registry(RefRegistry.builder().stuckThreshold(threshold));
    }

    private RefRegistry registry(RefRegistry.Builder builder) {
        RefRegistry r = builder.build();
        r.addListener(recorder);
        registries.add(r);
        return r;
    }

    @Test
    void manyKillsLeaveAtMostOneStuckCheckPending() {
        RefRegistry registry = registry(Duration.ofMinutes(1));
        for (int i = 0; i < 1_000; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            h.acquire(); // stays dying: every kill is still watched
            h.kill();
        }

        assertThat(registry.pendingStuckChecks()).isEqualTo(1);
    }

    @Test
    void releasedEntriesAreDroppedFromTheWatchAtTheNextKillNotKeptForAThreshold() {
        // Direct executor: each release happens inside its kill, so the next kill finds it released.
        RefRegistry registry = registry(RefRegistry.builder().callbackExecutor(Runnable::run)
                .stuckThreshold(Duration.ofMinutes(1)));
        for (int i = 0; i < 1_000; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            h.kill();
            assertThat(h.state()).isEqualTo(RefState.RELEASED);
        }

        assertThat(registry.watchedKills()).isLessThanOrEqualTo(1);
    }

    @Test
    void releasedEntriesAreNotReportedStuck() {
        RefRegistry registry = registry(Duration.ofMillis(30));
        List<Lease<TestResource>> held = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            if (i % 2 == 0) {
                held.add(h.acquire()); // stuck
            }
            h.kill(); // the odd ones release at once (no lease)
        }

        await().until(() -> registry.stuckCount() == 25);
        await().during(Duration.ofMillis(200)).until(() -> recorder.stuck.size() == 25);
        assertThat(recorder.stuck).extracting(RefInfo::name)
                .allSatisfy(name -> assertThat(Integer.parseInt(name.substring(1)) % 2).isZero());
        held.forEach(Lease::close);
    }

    @Test
    void eachStuckEntryIsReportedExactlyOnce() {
        RefRegistry registry = registry(Duration.ofMillis(20));
        for (int round = 0; round < 5; round++) {
            for (int i = 0; i < 20; i++) {
                ManagedResource<TestResource> h = registry.register("r" + round + "-" + i, new TestResource(),
                        TestResource::close);
                h.acquire();
                h.kill();
            }
            int expected = (round + 1) * 20;
            await().until(() -> registry.stuckCount() == expected);
        }

        await().during(Duration.ofMillis(200)).until(() -> recorder.stuck.size() == 100);
        assertThat(recorder.stuck.stream().map(RefInfo::name).collect(Collectors.toSet())).hasSize(100);
        assertThat(registry.stuckCount()).isEqualTo(100);
    }

    @Test
    void aKillWhileTheSweepFindsTheWatchEmptyIsNotLost() throws Exception {
        RefRegistry registry = registry(Duration.ofMillis(20));
        AtomicReference<ManagedResource<TestResource>> late = new AtomicReference<>();
        CountDownLatch hookRan = new CountDownLatch(1);
        // Runs on the detector thread once the sweep has found nothing left to watch, before it
        // stands down: a kill there must not be lost.
        registry.afterSweepFoundNothing(() -> {
            if (late.get() == null) {
                ManagedResource<TestResource> h = registry.register("late", new TestResource(), TestResource::close);
                h.acquire();
                h.kill();
                late.set(h);
                hookRan.countDown();
            }
        });
        ManagedResource<TestResource> first = registry.register("first", new TestResource(), TestResource::close);
        first.acquire();
        first.kill();

        assertThat(hookRan.await(30, TimeUnit.SECONDS)).as("the sweep found the watch empty").isTrue();
        await().until(() -> registry.stuckCount() == 2);
        assertThat(recorder.stuck).extracting(RefInfo::name).containsExactly("first", "late");
    }

    @Test
    void concurrentKillersAreAllWatched() throws Exception {
        RefRegistry registry = registry(Duration.ofMillis(5));
        int threads = 4;
        int perThread = 200;
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> killers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread killer = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    ManagedResource<TestResource> h = registry.register("t" + id + "-" + i, new TestResource(),
                            TestResource::close);
                    Lease<TestResource> lease = h.acquire();
                    h.kill();
                    if (i % 3 == 0) {
                        lease.close(); // released: must not be reported (if it released within the threshold)
                    }
                    if (i % 50 == 0) {
                        Thread.yield(); // let the sweep empty the watch now and then
                    }
                }
            });
            killers.add(killer);
            killer.start();
        }
        start.countDown();
        for (Thread killer : killers) {
            killer.join();
        }

        // Every entry still dying is reported, once; no released entry stays counted.
        int stillDying = threads * (perThread - (perThread + 2) / 3);
        await().until(() -> registry.stuckCount() == stillDying);
        assertThat(new HashSet<>(recorder.stuck.stream().map(RefInfo::name).toList())).hasSize(recorder.stuck.size());
    }

    @Test
    void aBlockingStuckListenerHoldsUpNeitherKillsNorShutdown() throws Exception {
        CountDownLatch inListener = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        RefRegistry registry = RefRegistry.builder().stuckThreshold(Duration.ofMillis(10)).build();
        registry.addListener(new RefListener() {
            @Override
            public void onStuck(RefInfo info) {
                inListener.countDown();
                try {
                    letGo.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        try {
            ManagedResource<TestResource> stuck = registry.register("stuck", new TestResource(), TestResource::close);
            stuck.acquire();
            stuck.kill();
            assertThat(inListener.await(30, TimeUnit.SECONDS)).as("onStuck was called").isTrue();

            CompletableFuture<Void> killsAndShutdown = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 100; i++) {
                    registry.register("quick" + i, new TestResource(), TestResource::close).kill();
                }
                registry.shutdown(Duration.ZERO);
            });

            killsAndShutdown.get(30, TimeUnit.SECONDS); // a TimeoutException if the listener held them up
            assertThat(registry.isShutdown()).isTrue();
        } finally {
            letGo.countDown();
        }
    }
}
