package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Probes of 17b5aea (each life's Release, the completer exemption): lives nested on one thread (an
 * action of life n's stage reinit()s, kills and drops to zero, so life n+1's release runs inside
 * life n's completion), and the same with the release on a busy single-thread executor and an
 * outside reinit() that runs the queued release itself. Checked: one release per life, never
 * overlapping, every life's stage complete, no exception, no hang.
 */
class NestedLivesAttack4Test {

    @Test
    @Timeout(20)
    void livesNestedInlineOnOneThread() {
        AtomicInteger releases = new AtomicInteger();
        AtomicBoolean inRelease = new AtomicBoolean();
        List<String> violations = new CopyOnWriteArrayList<>();
        PercpuRef ref = PercpuRef.builder().name("nested").allowReinit()
                .errorReporter(e -> violations.add("reported " + e))
                .onRelease(r -> {
                    if (!inRelease.compareAndSet(false, true)) {
                        violations.add("overlap");
                    }
                    releases.incrementAndGet();
                    inRelease.set(false);
                }).build();
        List<CompletableFuture<Void>> stages = new CopyOnWriteArrayList<>();
        int lives = 40;
        arm(ref, stages, lives, violations);
        ref.kill();
        assertThat(violations).isEmpty();
        assertThat(releases.get()).isEqualTo(lives + 1);
        assertThat(stages).hasSize(lives + 1).allMatch(CompletableFuture::isDone);
        assertThat(ref.isZero()).isTrue();
        ref.reinit();
        assertThat(ref.isDying()).isFalse();
    }

    private static void arm(PercpuRef ref, List<CompletableFuture<Void>> stages, int left, List<String> violations) {
        stages.add(ref.released().toCompletableFuture());
        if (left == 0) {
            return;
        }
        ref.released().thenRun(() -> {
            try {
                ref.reinit();
                arm(ref, stages, left - 1, violations);
                ref.get();
                ref.kill();
                ref.put(); // the last put: the next life's release runs here, inside this completion
            } catch (Throwable t) {
                violations.add(t.toString());
            }
        });
    }

    @Test
    @Timeout(20)
    void nestedLifeQueuedBehindTheBusyExecutorIsRunByAnOutsideReinit() throws Exception {
        ExecutorService x = Executors.newSingleThreadExecutor();
        try {
            AtomicInteger releases = new AtomicInteger();
            AtomicBoolean inRelease = new AtomicBoolean();
            List<String> violations = new CopyOnWriteArrayList<>();
            PercpuRef ref = PercpuRef.builder().name("nested-x").allowReinit().callbackExecutor(x)
                    .errorReporter(e -> violations.add("reported " + e))
                    .onRelease(r -> {
                        if (!inRelease.compareAndSet(false, true)) {
                            violations.add("overlap");
                        }
                        releases.incrementAndGet();
                        inRelease.set(false);
                    }).build();
            CompletableFuture<Void> life1 = ref.released().toCompletableFuture();
            CountDownLatch life2Zero = new CountDownLatch(1);
            CountDownLatch outsideDone = new CountDownLatch(1);
            CompletableFuture<Void>[] life2 = new CompletableFuture[1];
            ref.released().thenRun(() -> { // on x, the completer of life 1
                try {
                    ref.reinit();
                    life2[0] = ref.released().toCompletableFuture();
                    ref.put(); // the initial reference, in per-CPU mode
                    ref.switchToAtomicSync(); // finds zero: life 2's release is queued on x, busy here
                    life2Zero.countDown();
                    // x stays busy until the outside reinit() (which runs life 2's release itself) returns
                    if (!outsideDone.await(5, TimeUnit.SECONDS)) {
                        violations.add("outside reinit did not return while x was busy");
                    }
                } catch (Throwable t) {
                    violations.add(t.toString());
                }
            });
            ref.kill();
            assertThat(life2Zero.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(ref.isZero()).isTrue();
            ref.reinit(); // life 3: runs life 2's queued release in this thread
            outsideDone.countDown();
            assertThat(life2[0]).isDone();
            assertThat(releases.get()).isEqualTo(2);
            assertThat(ref.isDying()).isFalse();
            ref.switchToPercpu();
            ref.kill();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (releases.get() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(releases.get()).isEqualTo(3);
            assertThat(life1).isDone();
            assertThat(violations).isEmpty();
        } finally {
            x.shutdownNow();
        }
    }
}
