package io.percpuref.registry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * User code (release actions, listeners, executors) never runs on a thread the registry shares with
 * other registries or owes its caller a deadline on: the process-wide leak detector, and the thread
 * calling {@link RefRegistry#shutdown(Duration)}.
 *
 * <p>Leaks are simulated by enqueueing a tracked lease's record, as the GC would once the lease is
 * unreachable ({@link Leaks#simulateCollection}), so these tests do not depend on {@code System.gc()}.
 */
class CallbackIsolationTest {

    private static final Executor DIRECT = Runnable::run;
    private static final Executor REJECTING = task -> {
        throw new RejectedExecutionException("always full");
    };

    private final CountDownLatch unblock = new CountDownLatch(1);

    @AfterEach
    void unblockReleaseActions() {
        unblock.countDown();
    }

    @Test
    void aBlockingReleaseActionInOneRegistryDoesNotStopLeakReportsOfAnother() {
        assertLeakReportsOfOneRegistrySurviveABlockedReleaseInAnother(DIRECT);
    }

    @Test
    void aBlockingReleaseActionBehindARejectingExecutorDoesNotStopLeakReportsOfAnother() {
        assertLeakReportsOfOneRegistrySurviveABlockedReleaseInAnother(REJECTING);
    }

    private void assertLeakReportsOfOneRegistrySurviveABlockedReleaseInAnother(Executor executor) {
        RefRegistry a = RefRegistry.builder().name("a").callbackExecutor(executor)
                .leakDetection(LeakDetection.PARANOID).reclaimLeaks(true).build();
        RefRegistry b = RefRegistry.builder().name("b").leakDetection(LeakDetection.PARANOID).build();
        RecordingListener bLeaks = new RecordingListener();
        b.addListener(bLeaks);
        CountDownLatch releaseStarted = new CountDownLatch(1);
        ManagedResource<TestResource> blocking = a.register("blocks-in-release", new TestResource(), r -> {
            releaseStarted.countDown();
            unblock.await();
        });
        Lease<TestResource> leaked = blocking.acquire();
        blocking.kill();
        // a's reclaim of this leak puts the last reference: its release action blocks
        Leaks.simulateCollection(leaked);
        await().until(() -> releaseStarted.getCount() == 0);

        ManagedResource<TestResource> other = b.register("other", new TestResource(), TestResource::close);
        Leaks.simulateCollection(other.acquire());

        await().atMost(Duration.ofSeconds(10)).until(() -> b.leakCount() == 1 && bLeaks.leaks.size() == 1);
        assertThat(bLeaks.leaks).singleElement().satisfies(r -> assertThat(r.refName()).isEqualTo("other"));
    }

    @Test
    void leakListenersNeverRunOnTheSharedLeakDetectorThread() {
        RefRegistry registry = RefRegistry.builder().callbackExecutor(DIRECT)
                .leakDetection(LeakDetection.PARANOID).build();
        List<String> threads = new CopyOnWriteArrayList<>();
        registry.addListener(new RefListener() {
            @Override
            public void onLeak(LeakReport report) {
                threads.add(Thread.currentThread().getName());
            }
        });
        ManagedResource<TestResource> h = registry.register("r", new TestResource(), TestResource::close);

        Leaks.simulateCollection(h.acquire());

        await().until(() -> threads.size() == 1);
        assertThat(threads).singleElement().asString().doesNotContain("leak-detector");
    }

    @Test
    void shutdownReturnsByItsDeadlineAndKillsEverythingWhenReleaseActionsBlockInline() throws Exception {
        assertShutdownKeepsItsDeadline(DIRECT);
    }

    @Test
    void shutdownReturnsByItsDeadlineAndKillsEverythingWhenTheExecutorRejects() throws Exception {
        assertShutdownKeepsItsDeadline(REJECTING);
    }

    private void assertShutdownKeepsItsDeadline(Executor executor) throws Exception {
        RefRegistry registry = RefRegistry.builder().callbackExecutor(executor)
                .leakDetection(LeakDetection.DISABLED).build();
        List<ManagedResource<TestResource>> handles = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            handles.add(registry.register("r" + i, new TestResource(), r -> unblock.await()));
        }

        long start = System.nanoTime();
        ShutdownReport report = CompletableFuture.supplyAsync(() -> registry.shutdown(Duration.ofMillis(100)),
                        runnable -> new Thread(runnable, "shutdown-caller").start())
                .get(5, TimeUnit.SECONDS);

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(handles).allSatisfy(h -> assertThat(h.state()).isNotEqualTo(RefState.LIVE));
        assertThat(report.isClean()).isFalse();
        assertThat(report.stragglers()).hasSize(10);
    }

    @Test
    void anExecutorThatThrowsAnErrorLosesNoCallback() {
        RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.DISABLED)
                .callbackExecutor(task -> {
                    throw new OutOfMemoryError("unable to create native thread (test)");
                }).build();
        TestResource resource = new TestResource();
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        h.kill();

        await().until(() -> h.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
        assertThat(resource.closedOn()).contains("-handoff-");
    }

    @Test
    void shutdownNeverRunsAReleaseActionInTheCallingThread() {
        RefRegistry registry = RefRegistry.builder().callbackExecutor(DIRECT)
                .leakDetection(LeakDetection.DISABLED).build();
        TestResource resource = new TestResource();
        registry.register("r", resource, TestResource::close);

        ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));

        assertThat(report.released()).containsExactly("r");
        assertThat(resource.closedOn()).isNotEqualTo(Thread.currentThread().getName());
    }
}
