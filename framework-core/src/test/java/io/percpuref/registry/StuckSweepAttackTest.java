package io.percpuref.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Adversarial tests of the one-sweep-per-registry stuck detection ({@link RefRegistry}, Stuck):
 * deadlines never early, failing listeners, a detector thread that idled out, shutdown, many
 * registries, and what the watch keeps behind a long-dying kill.
 */
class StuckSweepAttackTest {

    private final RecordingListener recorder = new RecordingListener();
    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();

    private RefRegistry registry(RefRegistry.Builder builder) {
        RefRegistry r = builder.build();
        r.addListener(recorder);
        registries.add(r);
        return r;
    }

    /**
     * Kill order is not deadline order when kills race (a record is appended after its killedAt was
     * read): whatever order the records enter, no resource is reported before it has been dying for
     * the threshold.
     */
    @Test
    void racingKillersNeverGetAResourceReportedBeforeItsThreshold() throws Exception {
        Duration threshold = Duration.ofMillis(40);
        RefRegistry registry = registry(RefRegistry.builder().stuckThreshold(threshold));
        int threads = 3;
        int perThread = 150;
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
                    h.acquire();
                    h.kill();
                    if (i % 16 == 0) {
                        Thread.yield();
                    }
                }
            }, "killer-" + t);
            killers.add(killer);
            killer.start();
        }
        start.countDown();
        for (Thread killer : killers) {
            killer.join();
        }

        await().until(() -> registry.stuckCount() == threads * perThread);
        assertThat(recorder.stuck).hasSize(threads * perThread);
        assertThat(recorder.stuck).allSatisfy(info -> assertThat(info.dyingFor()).isGreaterThanOrEqualTo(threshold));
    }

    /** An onStuck listener that throws (even a VM error) neither loses the other stuck resources nor stops later sweeps. */
    @Test
    void aThrowingStuckListenerLosesNoReportAndStopsNoLaterSweep() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<String> seen = new CopyOnWriteArrayList<>();
        RefRegistry registry = registry(RefRegistry.builder().stuckThreshold(Duration.ofMillis(20))
                .errorReporter(failure -> { }));
        registry.addListener(new RefListener() {
            @Override
            public void onStuck(RefInfo info) {
                seen.add(info.name());
                switch (calls.getAndIncrement()) {
                    case 0 -> throw new StackOverflowError("listener overflow (a VirtualMachineError)");
                    case 1 -> throw new IllegalStateException("listener bug");
                    default -> { }
                }
            }
        });
        for (int i = 0; i < 4; i++) {
            ManagedResource<TestResource> h = registry.register("a" + i, new TestResource(), TestResource::close);
            h.acquire();
            h.kill();
        }
        await().until(() -> seen.size() == 4);

        ManagedResource<TestResource> later = registry.register("later", new TestResource(), TestResource::close);
        later.acquire();
        later.kill();

        await().until(() -> seen.size() == 5);
        assertThat(seen).containsExactlyInAnyOrder("a0", "a1", "a2", "a3", "later");
        assertThat(registry.stuckCount()).isEqualTo(5);
        await().until(() -> registry.pendingStuckChecks() == 0);
    }

    /**
     * The detector thread times out after 10s idle; a kill after that must start a new one and be
     * reported.
     */
    @Test
    void aKillAfterTheDetectorThreadIdledOutIsReported() {
        RefRegistry registry = registry(RefRegistry.builder().name("idle-out").stuckThreshold(Duration.ofMillis(20)));
        ManagedResource<TestResource> first = registry.register("first", new TestResource(), TestResource::close);
        first.acquire();
        first.kill();
        await().until(() -> registry.stuckCount() == 1);

        await().atMost(Duration.ofSeconds(60)).until(() -> detectorThreads("idle-out") == 0);
        ManagedResource<TestResource> second = registry.register("second", new TestResource(), TestResource::close);
        second.acquire();
        second.kill();

        await().until(() -> registry.stuckCount() == 2);
        assertThat(recorder.stuck).extracting(RefInfo::name).containsExactly("first", "second");
    }

    private static long detectorThreads(String registryName) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("percpu-ref-" + registryName + "-")
                        && t.getName().contains("-stuck-detector") && t.isAlive())
                .count();
    }

    /** shutdown() empties the watch and leaves no sweep; kills and releases after it watch nothing. */
    @Test
    void shutdownLeavesNothingWatchedAndNothingScheduled() {
        RefRegistry registry = registry(RefRegistry.builder().stuckThreshold(Duration.ofMinutes(5)));
        List<Lease<TestResource>> held = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
            held.add(h.acquire());
            h.kill();
        }
        ManagedResource<TestResource> live = registry.register("live", new TestResource(), TestResource::close);
        held.add(live.acquire()); // killed by shutdown, after which nothing is watched any more
        assertThat(registry.watchedKills()).isEqualTo(20);

        registry.shutdown(Duration.ZERO);

        assertThat(registry.watchedKills()).isZero();
        assertThat(registry.pendingStuckChecks()).isZero();
        held.forEach(Lease::close);
        await().until(() -> registry.dyingCount() == 0);
        assertThat(registry.watchedKills()).isZero();
        assertThat(registry.stuckCount()).isZero();
    }

    /** Many registries: each has its own sweep, and a stuck resource in one is reported in that one only. */
    @Test
    void eachOfManyRegistriesReportsItsOwnStuckResources() {
        List<RefRegistry> many = new ArrayList<>();
        for (int r = 0; r < 8; r++) {
            RefRegistry registry = registry(RefRegistry.builder().name("many-" + r).stuckThreshold(Duration.ofMillis(10)));
            many.add(registry);
            for (int i = 0; i <= r; i++) {
                ManagedResource<TestResource> h = registry.register("r" + i, new TestResource(), TestResource::close);
                h.acquire();
                h.kill();
            }
        }
        for (int r = 0; r < many.size(); r++) {
            int expected = r + 1;
            RefRegistry registry = many.get(r);
            await().until(() -> registry.stuckCount() == expected);
        }
        await().during(Duration.ofMillis(100)).until(() -> recorder.stuck.size() == 36);
        for (RefRegistry registry : many) {
            assertThat(registry.pendingStuckChecks()).isLessThanOrEqualTo(1);
        }
    }

    /**
     * A released resource is not kept reachable by the watch, but its record is: behind a kill that
     * stays dying, every later kill's record stays in the watch until the sweep reaches it, up to one
     * threshold (the old per-kill check was removed from the detector's queue at release). Pins that
     * the sweep drops them all once the long-dying head has been reported.
     */
    @Test
    void recordsBehindALongDyingKillAreDroppedOnceItIsReported() {
        RefRegistry registry = registry(RefRegistry.builder().callbackExecutor(Runnable::run)
                .stuckThreshold(Duration.ofSeconds(5)));
        ManagedResource<TestResource> head = registry.register("head", new TestResource(), TestResource::close);
        Lease<TestResource> held = head.acquire();
        head.kill();
        int kills = 2_000;
        for (int i = 0; i < kills; i++) {
            ManagedResource<TestResource> h = registry.register("quick" + i, new TestResource(), TestResource::close);
            h.kill(); // released at once (no lease, direct executor)
        }
        // Every released kill is still watched behind the dying head: the watch is as long as the kills
        // of one threshold, not as the resources dying now (1).
        assertThat(registry.stuckCount()).as("the head is not yet reported (the kills took under 5s)").isZero();
        assertThat(registry.watchedKills()).isEqualTo(kills + 1);

        await().until(() -> registry.stuckCount() == 1);
        await().until(() -> registry.watchedKills() == 0);
        assertThat(recorder.stuck).extracting(RefInfo::name).containsExactly("head");
        held.close();
    }

    /**
     * A stuck resource released by an earlier listener of the very onStuck event: the stuck gauge
     * must not keep counting it, and it leaves the watch.
     */
    @Test
    void aResourceReleasedDuringItsOwnStuckReportIsNotLeftCountedStuck() {
        AtomicBoolean closedInListener = new AtomicBoolean();
        List<Lease<TestResource>> held = new CopyOnWriteArrayList<>();
        RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run)
                .stuckThreshold(Duration.ofMillis(20)).build();
        registries.add(registry);
        registry.addListener(new RefListener() {
            @Override
            public void onStuck(RefInfo info) {
                held.forEach(Lease::close); // releases it, inline, on the detector thread
                closedInListener.set(true);
            }
        });
        registry.addListener(recorder); // after the closer: gets onReleased, then onStuck
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);
        held.add(h.acquire());
        h.kill();

        await().until(closedInListener::get);
        await().until(() -> recorder.stuck.size() == 1);
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(registry.stuckCount()).isZero();
        assertThat(registry.watchedKills()).isZero();
        // (This listener gets onReleased before onStuck for the same resource: the order is not promised.)
        assertThat(recorder.events).contains("released:r", "stuck:r");
    }
}
