package io.percpuref.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Thousands of virtual threads share one ref (SPEC §6: "runs unchanged on virtual threads"). Each
 * virtual thread repeatedly takes a reference with tryGetLive, parks while holding it (so carriers
 * switch between holders mid-reference), and puts it. Meanwhile the ref is killed and resurrected,
 * then finally killed for good.
 *
 * <p>Asserts: release exactly once per life and never while held; no tryGetLive that starts after
 * a kill returned succeeds; every virtual thread finishes (nothing pins or deadlocks a carrier).
 * Compiled for Java 17, so virtual threads are created reflectively; runs in the JDK 25 test
 * execution (and on any JDK 21+).
 */
@EnabledForJreRange(min = JRE.JAVA_21)
class VirtualThreadStressTest {

    private static final int VIRTUAL_THREADS = 5_000;

    @Test
    void thousandsOfVirtualThreadsShareOneRefThroughKillsAndResurrects() throws Exception {
        StressRun run = new StressRun("virtual-threads", 64);
        KillEpoch killEpoch = new KillEpoch();
        AtomicLong rejected = new AtomicLong();
        long deadline = System.nanoTime() + StressRun.duration().toNanos();
        CountDownLatch started = new CountDownLatch(VIRTUAL_THREADS);
        List<Future<?>> tasks = new ArrayList<>();
        ExecutorService virtualThreads = newVirtualThreadPerTaskExecutor();
        try {
            for (int i = 0; i < VIRTUAL_THREADS; i++) {
                tasks.add(virtualThreads.submit(() -> {
                    started.countDown();
                    while (System.nanoTime() < deadline) {
                        long before = killEpoch.read();
                        if (!run.ref.tryGetLive()) {
                            rejected.incrementAndGet();
                            LockSupport.parkNanos(100_000);
                            continue;
                        }
                        if (KillEpoch.isKilled(before) && killEpoch.read() == before) {
                            run.violations.add("tryGetLive succeeded after kill() returned");
                        }
                        run.acquired();
                        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(50_000));
                        run.releasing();
                        run.ref.put();
                    }
                }));
            }
            assertThat(started.await(60, TimeUnit.SECONDS)).isTrue();

            int cycles = 0;
            while (System.nanoTime() < deadline - TimeUnit.MILLISECONDS.toNanos(200)) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                run.ref.get(); // pin: the resurrect below continues the same life
                run.ref.kill();
                killEpoch.killReturned();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                killEpoch.comingBack();
                run.ref.resurrect();
                run.ref.put();
                cycles++;
            }
            assertThat(cycles).isPositive();

            run.ref.kill();
            killEpoch.killReturned();
            for (Future<?> task : tasks) {
                task.get(60, TimeUnit.SECONDS);
            }
        } finally {
            virtualThreads.shutdownNow();
        }

        run.ref.released().toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertThat(run.violationList()).isEmpty();
        assertThat(run.releases).as(run.summary(1)).hasValue(1);
        assertThat(run.held).hasValue(0);
        assertThat(run.ref.isZero()).isTrue();
        assertThat(run.acquisitions.get()).isGreaterThan(VIRTUAL_THREADS);
        assertThat(rejected.get()).as("some calls were rejected while dying").isPositive();
    }

    private static ExecutorService newVirtualThreadPerTaskExecutor() throws ReflectiveOperationException {
        return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    }
}
