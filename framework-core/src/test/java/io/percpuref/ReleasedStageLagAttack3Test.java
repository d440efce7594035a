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
 * Found by an adversarial review (pre-existing before 3e1e601): released() hands out views
 * (minimal stages, copies) that are <i>dependents</i> of the life's internal stage, completed in its
 * completion after the internal stage is already done, in an order CompletableFuture chooses, each
 * after the actions of dependents that run before it. reinit()/resurrect() waited for the internal
 * stage only, so a holder's released() stage of the old life could still be incomplete, and a
 * holder's synchronous cleanup still running, when the next life had started. They now wait for the
 * whole completion, unless called from inside it (the {@code released().thenRun(ref::reinit)} idiom).
 */
class ReleasedStageLagAttack3Test {

    @Test
    @Timeout(20)
    void reinitWaitsForEveryReleasedStageOfTheOldLifeAndTheActionsChainedOnIt() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            PercpuRef ref = PercpuRef.builder().name("lag").allowReinit().callbackExecutor(pool)
                    .onRelease(r -> { }).build();
            CompletableFuture<Void> first = ref.released().toCompletableFuture(); // holder A's view of life 1
            CountDownLatch inDependent = new CountDownLatch(1);
            AtomicBoolean cleanupDone = new AtomicBoolean();
            ref.released().thenRun(() -> { // holder B chains some slow cleanup on life 1's release
                inDependent.countDown();
                sleep(300);
                cleanupDone.set(true);
            });
            ref.kill(); // confirm, last put and release on the pool; B's action then runs there
            assertThat(inDependent.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(ref.isZero()).isTrue();

            ref.reinit(); // waits for the release to finish, B's cleanup included
            boolean firstDone = first.isDone();
            boolean cleanupFinished = cleanupDone.get();

            assertThat(ref.isDying()).isFalse();
            assertThat(firstDone).as("life 1's released() stage complete when reinit() started life 2").isTrue();
            assertThat(cleanupFinished).as("B's cleanup of life 1 finished when reinit() started life 2").isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    /** Same with resurrect() (from zero), which documents the same ordering. */
    @Test
    @Timeout(20)
    void sameWithResurrect() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            PercpuRef ref = PercpuRef.builder().name("lag-r").allowReinit().callbackExecutor(pool)
                    .onRelease(r -> { }).build();
            CompletableFuture<Void> first = ref.released().toCompletableFuture();
            CountDownLatch inDependent = new CountDownLatch(1);
            AtomicBoolean cleanupDone = new AtomicBoolean();
            ref.released().thenRun(() -> {
                inDependent.countDown();
                sleep(300);
                cleanupDone.set(true);
            });
            ref.kill();
            assertThat(inDependent.await(5, TimeUnit.SECONDS)).isTrue();
            ref.resurrect();
            assertThat(first.isDone()).as("life 1's released() stage complete when resurrect() started life 2").isTrue();
            assertThat(cleanupDone.get()).as("B's cleanup of life 1 finished when resurrect() started life 2").isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The documented idiom {@code released().thenRun(ref::reinit)} runs inside the completion that
     * reinit() otherwise waits for: it must not wait for itself. (Dependents that CompletableFuture
     * runs after it, here an earlier holder's copy, then see the next life: docs/semantics.md.)
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
