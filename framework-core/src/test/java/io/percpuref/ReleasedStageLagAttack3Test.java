package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the next life waits for, after two adversarial rounds. Round 3 found that released() hands
 * out views (minimal stages, copies) that complete in the completion of the life's internal stage,
 * after it, in an order CompletableFuture chooses, so "the previous life's released() stage is
 * complete before the next life starts" did not hold; waiting for the whole completion instead
 * (commit 17b5aea) deadlocked two refs whose actions reinit each other (round 4,
 * CrossRefReinitAttack4Test) and a holder whose action waits for the thread that reinits. The
 * guarantee is now the one that holds: reinit()/resurrect() wait for the release callback, not for
 * the actions chained on released(); those complete in the releasing thread, none is lost.
 */
class ReleasedStageLagAttack3Test {

    /** The shape round 3 used: an action of life 1 that waits for the thread that reinits must not hang it. */
    @Test
    @Timeout(20)
    void reinitDoesNotWaitForAnActionChainedOnTheOldLifesReleasedStage() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            PercpuRef ref = PercpuRef.builder().name("lag").allowReinit().callbackExecutor(pool)
                    .onRelease(r -> { }).build();
            CompletableFuture<Void> first = ref.released().toCompletableFuture(); // holder A's view of life 1
            CountDownLatch inDependent = new CountDownLatch(1);
            CountDownLatch reinitReturned = new CountDownLatch(1);
            AtomicBoolean sawLifeTwo = new AtomicBoolean();
            ref.released().thenRun(() -> { // holder B's action waits until this thread has reinit()ed
                inDependent.countDown();
                try {
                    sawLifeTwo.set(reinitReturned.await(10, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            ref.kill(); // confirm, last put and release on the pool; B's action then runs there
            assertThat(inDependent.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(ref.isZero()).isTrue();

            long start = System.nanoTime();
            ref.reinit(); // the release callback has returned: the next life starts at once
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            reinitReturned.countDown();

            assertThat(tookMillis).as("reinit() waited for B's action").isLessThan(5_000);
            assertThat(ref.isDying()).isFalse();
            first.get(5, TimeUnit.SECONDS); // completes in the same completion, once B's action returned
            assertThat(sawLifeTwo).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    /** Same with resurrect() (from zero). */
    @Test
    @Timeout(20)
    void sameWithResurrect() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            PercpuRef ref = PercpuRef.builder().name("lag-r").allowReinit().callbackExecutor(pool)
                    .onRelease(r -> { }).build();
            CompletableFuture<Void> first = ref.released().toCompletableFuture();
            CountDownLatch inDependent = new CountDownLatch(1);
            CountDownLatch resurrected = new CountDownLatch(1);
            ref.released().thenRun(() -> {
                inDependent.countDown();
                try {
                    resurrected.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            ref.kill();
            assertThat(inDependent.await(5, TimeUnit.SECONDS)).isTrue();
            long start = System.nanoTime();
            ref.resurrect();
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            resurrected.countDown();
            assertThat(tookMillis).as("resurrect() waited for the action").isLessThan(5_000);
            first.get(5, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The documented idiom {@code released().thenRun(ref::reinit)}: it starts the next life from
     * inside the completion of the old life's stage. (Dependents that CompletableFuture runs after
     * it, here an earlier holder's copy, then see the next life: docs/semantics.md.)
     */
    @Test
    @Timeout(20)
    void theDocumentedReinitIdiomStartsTheNextLifeFromInsideTheCompletion() {
        PercpuRef ref = PercpuRef.builder().name("idiom").allowReinit().onRelease(r -> { }).build();
        AtomicReference<String> seenByCleanup = new AtomicReference<>();
        CompletableFuture<Void> cleanupStage = ref.released().toCompletableFuture(); // a holder's view, taken first
        ref.released().thenRun(ref::reinit); // the idiom
        cleanupStage.thenRun(() -> seenByCleanup.set(ref.toString()));
        ref.kill(); // release, then life 2, all in this thread
        assertThat(cleanupStage).isDone();
        assertThat(seenByCleanup.get()).isNotNull();
        assertThat(ref.isDying()).as("life 2 started by the idiom").isFalse();
        assertThat(ref.released().toCompletableFuture()).as("life 2's stage").isNotDone();
        // and life 2 ends the same way
        ref.kill();
        assertThat(ref.isDying()).as("life 2 stays released: the idiom was chained on life 1's stage only").isTrue();
        assertThat(ref.isZero()).isTrue();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
