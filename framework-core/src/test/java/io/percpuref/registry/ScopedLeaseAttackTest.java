package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Adversarial review of {@link ManagedResource#withLease} (ac26091): re-entrance, kills inside and
 * racing the work, shutdown while the work runs, the SIMPLE interval-1 tracking claim, and the
 * counts ({@code inFlight}, {@code openLeases}, rejections) around all of them.
 */
class ScopedLeaseAttackTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();

    private RefRegistry registry(LeakDetection detection, int interval) {
        return registries.add(RefRegistry.builder()
                .callbackExecutor(Runnable::run)
                .leakDetection(detection)
                .leakSamplingInterval(interval)
                .build());
    }

    private final TestResource resource = new TestResource();

    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    void nestedScopedLeasesCountTwiceAndAllComeBack(LeakDetection detection) {
        ManagedResource<TestResource> h = registry(detection, 2).register("r", resource, TestResource::close);

        long[] inner = h.withLease(outer -> h.withLease(r -> new long[] {h.info().inFlight(), h.openLeases().count(),
                h.openLeases().holders().size()}));

        assertThat(inner[0]).isEqualTo(2);
        assertThat(inner[1]).isEqualTo(2);
        assertThat(inner[2]).isEqualTo(detection == LeakDetection.PARANOID ? 2 : 0);
        assertThat(h.info().inFlight()).isZero();
        assertThat(h.openLeases().isEmpty()).isTrue();
        h.kill();
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void simpleWithIntervalOneTracksEveryScopedLeaseAsDocumented() {
        ManagedResource<TestResource> h = registry(LeakDetection.SIMPLE, 1).register("r", resource, TestResource::close);

        OpenLeases during = h.withLease(r -> h.openLeases());

        assertThat(during.holders()).as("docs: SIMPLE with a sampling interval of 1 tracks it like any lease")
                .singleElement()
                .satisfies(holder -> assertThat(holder.acquiredBy()).isEqualTo(Thread.currentThread().getName()));
        assertThat(h.openLeases().isEmpty()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    void aKillInsideTheWorkRefusesANestedScopedLeaseAndReleasesOnceAfterTheWork(LeakDetection detection) {
        RefRegistry registry = registry(detection, 2);
        ManagedResource<TestResource> h = registry.register("r", resource, TestResource::close);

        long[] seen = h.withLease(r -> {
            h.kill();
            long rejectedBefore = registry.rejectionCount();
            assertThatThrownBy(() -> h.withLease(x -> "must not run"))
                    .isInstanceOf(ResourceUnavailableException.class);
            long inFlight = h.info().inFlight();
            long open = h.openLeases().count();
            return new long[] {registry.rejectionCount() - rejectedBefore, inFlight, open, r.closes()};
        });

        assertThat(seen[0]).as("the refused nested withLease is counted once").isEqualTo(1);
        assertThat(seen[1]).as("inFlight while dying, during the work").isEqualTo(1);
        assertThat(seen[2]).as("openLeases().count() while dying, during the work").isEqualTo(1);
        assertThat(seen[3]).as("release action did not run during the work").isZero();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    void aKillInsideWorkThatThenThrowsStillReleasesExactlyOnce(LeakDetection detection) {
        ManagedResource<TestResource> h = registry(detection, 1).register("r", resource, TestResource::close);

        assertThatThrownBy(() -> h.withLease(r -> {
            h.kill();
            throw new IllegalStateException("after kill");
        })).hasMessage("after kill");

        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    /**
     * Many threads run scoped leases while another kills: every call either runs its work or is
     * refused without running; the release runs exactly once, and never while any work is running.
     */
    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void killRacingManyScopedLeasesReleasesOnceAfterTheLastWork(LeakDetection detection) throws Exception {
        RefRegistry registry = registry(detection, 2);
        for (int round = 0; round < 200; round++) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger runningAtRelease = new AtomicInteger(-1);
            AtomicInteger releases = new AtomicInteger();
            ManagedResource<AtomicInteger> h = registry.register("race-" + round, running, r -> {
                runningAtRelease.set(r.get());
                releases.incrementAndGet();
            });
            int threads = 3;
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            AtomicLong ran = new AtomicLong();
            AtomicLong refused = new AtomicLong();
            long rejectedBefore = registry.rejectionCount();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread w = new Thread(() -> {
                    await(start);
                    for (int i = 0; i < 200; i++) {
                        try {
                            h.withLease(r -> {
                                r.incrementAndGet();
                                Thread.onSpinWait();
                                r.decrementAndGet();
                                return null;
                            });
                            ran.incrementAndGet();
                        } catch (ResourceUnavailableException e) {
                            refused.incrementAndGet();
                        }
                    }
                });
                w.start();
                workers.add(w);
            }
            await(start);
            Thread.yield();
            h.kill();
            for (Thread w : workers) {
                w.join();
            }
            h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);

            assertThat(releases.get()).as("round %d: releases", round).isEqualTo(1);
            assertThat(runningAtRelease.get()).as("round %d: works running when the release ran", round).isZero();
            assertThat(ran.get() + refused.get()).isEqualTo(threads * 200L);
            assertThat(registry.rejectionCount() - rejectedBefore).as("round %d: rejections", round)
                    .isEqualTo(refused.get());
        }
    }

    /** shutdown() while a scoped lease's work runs: the report holds it as dying, the release waits for the work. */
    @ParameterizedTest
    @EnumSource(LeakDetection.class)
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shutdownWhileTheWorkRunsWaitsForTheWork(LeakDetection detection) throws Exception {
        RefRegistry registry = registry(detection, 2);
        AtomicInteger inWork = new AtomicInteger();
        AtomicInteger inWorkAtRelease = new AtomicInteger(-1);
        ManagedResource<TestResource> h = registry.register("busy", resource, r -> {
            inWorkAtRelease.set(inWork.get());
            r.close();
        });
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        Thread worker = new Thread(() -> h.withLease(r -> {
            inWork.incrementAndGet();
            entered.countDown();
            try {
                proceed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inWork.decrementAndGet();
            return null;
        }), "scoped-worker");
        worker.start();
        entered.await();

        ShutdownReport report = registry.shutdown(Duration.ofMillis(100));
        OpenLeases open = h.openLeases();

        assertThat(h.state()).isEqualTo(RefState.DYING);
        assertThat(open.count()).isEqualTo(1);
        assertThat(h.info().inFlight()).isEqualTo(1);
        assertThat(report.toString()).contains("busy");
        if (detection == LeakDetection.PARANOID) {
            assertThat(open.holders()).singleElement()
                    .satisfies(holder -> assertThat(holder.acquiredBy()).isEqualTo("scoped-worker"));
        }
        proceed.countDown();
        worker.join();
        h.released().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(inWorkAtRelease.get()).isZero();
        assertThat(resource.closes()).isEqualTo(1);
    }

    private static void await(CyclicBarrier b) {
        try {
            b.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
