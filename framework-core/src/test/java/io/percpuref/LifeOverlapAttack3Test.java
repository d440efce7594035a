package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Probe of 3e1e601 (release state of the life moved into the lazily made lock): fresh refs, so the
 * lock is made by whichever of the racing ops comes first (a holder's put to zero, kill, released(),
 * reinit polling), with a slow queuing executor. Checked: each life's release runs once, its
 * released() stage completes, the next life (reinit returning) never overlaps the release callback.
 * (It first also required the stage complete when reinit returned, which does not hold: see
 * ReleasedStageLagAttack3Test.)
 */
class LifeOverlapAttack3Test {

    @Test
    @Timeout(20)
    void freshRefsNoLifeOverlapsItsRelease() throws Exception {
        ExecutorService slow = Executors.newFixedThreadPool(2);
        ExecutorService workers = Executors.newFixedThreadPool(3);
        CopyOnWriteArrayList<String> violations = new CopyOnWriteArrayList<>();
        try {
            long deadline = System.nanoTime() + 6_000_000_000L;
            int rounds = 0;
            while (System.nanoTime() < deadline) {
                rounds++;
                AtomicBoolean inRelease = new AtomicBoolean();
                AtomicInteger releases = new AtomicInteger();
                PercpuRef ref = PercpuRef.builder().allowReinit()
                        .callbackExecutor(rounds % 3 == 0 ? Runnable::run : slow)
                        .errorReporter(e -> violations.add("reported: " + e.getMessage()))
                        .onRelease(r -> {
                            if (!inRelease.compareAndSet(false, true)) {
                                violations.add("overlapping release");
                            }
                            releases.incrementAndGet();
                            if (ThreadLocalRandom.current().nextBoolean()) {
                                Thread.yield();
                            }
                            inRelease.set(false);
                        }).build();
                ref.get(); // the holder's reference, put concurrently with the kill
                CountDownLatch go = new CountDownLatch(1);
                AtomicReference<CompletableFuture<Void>> stage = new AtomicReference<>();
                CompletableFuture<?> put = CompletableFuture.runAsync(() -> {
                    await(go);
                    ref.put();
                }, workers);
                CompletableFuture<?> kill = CompletableFuture.runAsync(() -> {
                    await(go);
                    ref.kill();
                }, workers);
                CompletableFuture<?> watch = CompletableFuture.runAsync(() -> {
                    await(go);
                    stage.set(ref.released().toCompletableFuture());
                }, workers);
                go.countDown();
                put.get(5, TimeUnit.SECONDS);
                kill.get(5, TimeUnit.SECONDS);
                watch.get(5, TimeUnit.SECONDS);
                while (!ref.isZero()) {
                    Thread.onSpinWait();
                }
                ref.reinit(); // waits for (or runs) the release callback
                if (inRelease.get()) {
                    violations.add("reinit returned during the release callback");
                }
                try {
                    // completes in the releasing thread, maybe a moment after reinit (docs/semantics.md)
                    stage.get().get(5, TimeUnit.SECONDS);
                } catch (Exception e) {
                    violations.add("released() stage of life 1 did not complete: " + e);
                }
                if (releases.get() != 1) {
                    violations.add("releases after life 1: " + releases.get());
                }
                CompletableFuture<Void> second = ref.released().toCompletableFuture();
                if (second.isDone()) {
                    violations.add("life 2 stage done at start");
                }
                ref.kill();
                second.get(5, TimeUnit.SECONDS);
                if (releases.get() != 2) {
                    violations.add("releases after life 2: " + releases.get());
                }
                if (!violations.isEmpty()) {
                    break;
                }
            }
            assertThat(violations).as("after %d rounds", rounds).isEmpty();
        } finally {
            slow.shutdownNow();
            workers.shutdownNow();
        }
    }

    private static void await(CountDownLatch l) {
        try {
            l.await();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
