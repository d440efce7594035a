package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The edges of {@link PercpuRef}'s contract (issue 9): counts near the limits of the slot encoding,
 * callback executors that fail, the releasing phase between the zero transition and the end of the
 * release callback, diagnostics read during a mode switch, and inflation only on real contention.
 * Each test reproduces a defect found in an adversarial read of an earlier version.
 */
class PercpuRefEdgeCasesTest {

    private final AtomicInteger releases = new AtomicInteger();
    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();

    private PercpuRef.Builder builder(String name) {
        return PercpuRef.builder()
                .name(name)
                .onRelease(r -> releases.incrementAndGet())
                .errorReporter(reported::add);
    }

    private static boolean isDone(CompletionStage<Void> stage) {
        return stage.toCompletableFuture().isDone();
    }

    @Nested
    class MaximumCount {

        @Test
        void getBeyondTheMaximumCountInAtomicModeThrowsNamingTheRef() {
            PercpuRef ref = builder("huge").initAtomic().build();

            assertThatIllegalArgumentException().isThrownBy(() -> ref.get(Long.MAX_VALUE))
                    .withMessageContaining("'huge'").withMessageContaining("maximum");
            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThatIllegalArgumentException().isThrownBy(() -> ref.get(PercpuRef.MAX_COUNT))
                    .withMessageContaining("'huge'");
            ref.get(PercpuRef.MAX_COUNT - 1);
            assertThat(ref.approximateCount()).isEqualTo(PercpuRef.MAX_COUNT);
            assertThatIllegalArgumentException().isThrownBy(ref::get);
            assertThatIllegalArgumentException().isThrownBy(() -> ref.tryGet(1));
        }

        @Test
        void tryGetLiveAtTheMaximumCountThrowsAndOneBelowItSucceeds() {
            PercpuRef ref = builder("live-at-max").initAtomic().build();
            ref.get(PercpuRef.MAX_COUNT - 2);

            assertThat(ref.tryGetLive()).isTrue();
            assertThat(ref.approximateCount()).isEqualTo(PercpuRef.MAX_COUNT);
            assertThatIllegalArgumentException().isThrownBy(ref::tryGetLive)
                    .withMessageContaining("'live-at-max'").withMessageContaining("maximum");
        }

        @Test
        void aPercpuTotalAboveTheMaximumIsReportedAtTheSwitchAndGetsThenFail() {
            PercpuRef ref = builder("percpu-above-max").build();
            ref.get(PercpuRef.MAX_COUNT);     // one operation of the maximum is allowed

            ref.switchToAtomicSync();

            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getMessage())
                    .contains("'percpu-above-max'").contains("above the maximum " + PercpuRef.MAX_COUNT));
            assertThat(ref.approximateCount()).isEqualTo(PercpuRef.MAX_COUNT + 1);
            assertThatIllegalArgumentException().isThrownBy(ref::get);
            ref.put(PercpuRef.MAX_COUNT);
            ref.get();
            assertThat(ref.approximateCount()).isEqualTo(2);
        }

        @Test
        void afterAFoldFarAboveTheMaximumAtomicGetsAreRefusedAndTheCountNeverWraps() {
            PercpuRef ref = builder("fold-3-max").build();
            for (int i = 0; i < 3; i++) {      // 3 * 2^48 references (the fold is exact below 2^50), each get(n) legal
                ref.get(PercpuRef.MAX_COUNT);
            }

            ref.kill();

            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getMessage()).contains("above the maximum"));
            assertThat(ref.approximateCount()).isEqualTo(3 * PercpuRef.MAX_COUNT);
            assertThatIllegalArgumentException().isThrownBy(ref::get);
            assertThatIllegalArgumentException().isThrownBy(() -> ref.get(PercpuRef.MAX_COUNT));
            assertThat(ref.approximateCount()).isEqualTo(3 * PercpuRef.MAX_COUNT);
        }

        @Test
        void aPercpuTotalOfExactlyTheMaximumIsNotReported() {
            PercpuRef ref = builder("percpu-at-max").build();
            ref.get(PercpuRef.MAX_COUNT - 1);

            ref.switchToAtomicSync();

            assertThat(reported).isEmpty();
            assertThat(ref.approximateCount()).isEqualTo(PercpuRef.MAX_COUNT);
        }

        @Test
        void anOperationOfMoreThanTheMaximumCountThrowsInPercpuModeToo() {
            PercpuRef ref = builder("huge-n").build();

            assertThatIllegalArgumentException().isThrownBy(() -> ref.get(PercpuRef.MAX_COUNT + 1))
                    .withMessageContaining("'huge-n'");
            assertThatIllegalArgumentException().isThrownBy(() -> ref.tryGet(Long.MAX_VALUE));
            assertThatIllegalArgumentException().isThrownBy(() -> ref.put(Long.MAX_VALUE));
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        /**
         * A reference taken on one thread and dropped on another makes the dropping thread's stripe
         * fall for ever. With n = 2^47 per hand-off, a stripe that counted in plain deltas reached
         * the sealed marker Long.MIN_VALUE after 2^16 hand-offs; its puts then went to the biased
         * atomic count, which fell to 1 another 2^15 hand-offs later, so that one more put of a
         * single reference ran release in per-CPU mode while the initial reference and the taker's
         * own reference were held. The stripe arithmetic now wraps without ever looking sealed: a
         * slot counts in units of 2^13, below which only the seal bit and the owner tag live (here
         * the dropper's slot wraps every 16 hand-offs).
         */
        @Test
        @Timeout(120)
        void handOffsDriftingAStripeThroughItsWholeRangeNeverReleaseWhileHeld() throws Exception {
            PercpuRef ref = builder("hand-off").stripes(1 << 16).build();
            ref.inflate();
            long n = PercpuRef.MAX_COUNT / 2;
            long handOffs = (1L << 16) + (1L << 15) + 1;
            AtomicLong given = new AtomicLong();
            AtomicLong dropped = new AtomicLong();
            AtomicInteger[] stripeOf = {new AtomicInteger(), new AtomicInteger()};
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier placed = new CyclicBarrier(2);
            Runnable warmUp = () -> {               // both count, in turn, until placed apart
                try {
                    for (int round = 0; round < 3; round++) {
                        placed.await(10, TimeUnit.SECONDS);
                        ref.get();
                        ref.put();
                        placed.await(10, TimeUnit.SECONDS);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            Thread taker = new Thread(() -> {
                warmUp.run();
                stripeOf[0].set(ref.stripeOffset());
                ref.get();                           // the taker's own reference, held throughout
                for (long i = 0; i < handOffs && failure.get() == null; i++) {
                    while (given.get() != dropped.get()) {
                        Thread.onSpinWait();
                    }
                    ref.get(i == handOffs - 1 ? 1 : n);
                    given.lazySet(i + 1);
                }
            }, "taker");
            Thread dropper = new Thread(() -> {
                warmUp.run();
                stripeOf[1].set(ref.stripeOffset());
                try {
                    for (long i = 0; i < handOffs; i++) {
                        while (given.get() == i) {
                            Thread.onSpinWait();
                        }
                        ref.put(i == handOffs - 1 ? 1 : n);
                        dropped.lazySet(i + 1);
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "dropper");
            taker.start();
            dropper.start();
            taker.join();
            dropper.join();

            assertThat(stripeOf[0].get()).as("the two threads count on different stripes")
                    .isNotEqualTo(stripeOf[1].get());
            assertThat(failure).hasValue(null);
            assertThat(releases).as("releases while references were held").hasValue(0);
            assertThat(ref.approximateCount()).isEqualTo(2);
            ref.kill();
            ref.put();
            assertThat(releases).hasValue(1);
            assertThat(reported).isEmpty();
        }
    }

    /**
     * The stripe fast path is one {@code getAndAdd}: a get or put on a sealed stripe still adds to it
     * (garbage, since the switch captured the slot before) and then counts on the atomic counter.
     * The garbage must never be counted: not by the fold, not by approximateCount, not after the
     * slot is unsealed.
     */
    @Nested
    class AddsToSealedStripes {

        @Test
        void referencesCountedWhileSealedAreCountedOnceAndTheUnsealErasesTheirSlotGarbage() {
            PercpuRef ref = builder("sealed-garbage").stripes(2).build();
            ref.inflate();
            ref.get(3);                                    // on this thread's stripe
            ref.switchToAtomicSync();                      // seals the stripe: count = 1 + 3
            ref.get(5);                                    // each adds garbage to the sealed stripe,
            ref.put(2);                                    // then counts on the atomic counter
            assertThat(ref.atomicPart()).isEqualTo(7);
            assertThat(ref.approximateCount()).isEqualTo(7);

            ref.switchToPercpu();                          // unseal: the stripe starts again from 0
            long biased = ref.atomicPart();
            ref.get(4);
            ref.put(4);
            ref.put(6);                                    // per-CPU puts of atomic-mode gets

            assertThat(ref.atomicPart()).as("per-CPU gets and puts stay on the stripe").isEqualTo(biased);
            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.kill();
            assertThat(releases).hasValue(1);
            assertThat(ref.isZero()).isTrue();
            assertThat(reported).isEmpty();
        }

        /**
         * Garbage reaches {@code base} only in a race: the owner read {@code stripes == null}, then
         * the switch sealed base (and the stripes field), then the owner's getAndAdd landed. Many
         * switch cycles against an owner that never stops counting must leave the count exact.
         */
        @Test
        @Timeout(60)
        void switchCyclesRacingBasesOwnerLeaveTheCountExact() throws Exception {
            PercpuRef ref = builder("base-owner-race").build();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong pairs = new AtomicLong();
            Thread owner = new Thread(() -> {
                while (!stop.get()) {
                    ref.get();
                    ref.put();
                    pairs.lazySet(pairs.get() + 1);
                }
            }, "base-owner");
            owner.start();
            try {
                await().atMost(Duration.ofSeconds(10)).until(() -> pairs.get() > 1_000);
                for (int i = 0; i < 20_000; i++) {
                    ref.switchToAtomicSync();
                    ref.switchToPercpu();
                }
            } finally {
                stop.set(true);
                owner.join();
            }
            assertThat(ref.inflated()).as("one counting thread never inflates").isFalse();
            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.kill();
            assertThat(releases).hasValue(1);
            assertThat(reported).isEmpty();
        }

        @Test
        void baseOwnersAddsWhileSealedAreCountedOnceAndTheUnsealErasesTheirGarbage() {
            PercpuRef ref = builder("sealed-base-garbage").stripes(2).build();
            ref.get(3);                                    // this thread claims base and adds to it
            ref.switchToAtomicSync();
            ref.get(5);                                    // garbage on the sealed base, then the
            ref.put(2);                                    // atomic counter
            assertThat(ref.inflated()).isFalse();
            assertThat(ref.atomicPart()).isEqualTo(7);
            assertThat(ref.approximateCount()).isEqualTo(7);

            ref.switchToPercpu();
            long biased = ref.atomicPart();
            ref.get(4);
            ref.put(10);

            assertThat(ref.atomicPart()).as("per-CPU gets and puts stay on base").isEqualTo(biased);
            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.kill();
            assertThat(releases).hasValue(1);
            assertThat(reported).isEmpty();
        }

        @Test
        void aThreadThatDoesNotOwnBaseStillCountsThereAndOnlyContentionInflates() throws Exception {
            PercpuRef ref = builder("shared-base").stripes(2).build();
            ref.get();                                     // this thread owns base
            CompletableFuture.runAsync(() -> {
                ref.get(2);                                // another thread: load + CAS on base
                ref.put();
            }, runnable -> new Thread(runnable, "not-the-owner").start()).get(10, TimeUnit.SECONDS);

            assertThat(ref.inflated()).as("sequential use by two threads is no contention").isFalse();
            assertThat(ref.approximateCount()).isEqualTo(3);
            ref.put(2);
            ref.kill();
            assertThat(releases).hasValue(1);
            assertThat(reported).isEmpty();
        }

        @Test
        void aDyingRefsStripeGarbageNeverReachesTheNextLife() {
            PercpuRef ref = builder("sealed-garbage-reinit").stripes(2).allowReinit().build();
            ref.inflate();
            ref.get();
            ref.kill();                                    // seals; the get above keeps it dying
            for (int i = 0; i < 1_000; i++) {
                ref.get();
                ref.put();                                 // garbage on the sealed stripe
            }
            ref.put();
            assertThat(releases).hasValue(1);

            ref.reinit();                                  // back to per-CPU mode, count 1
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            ref.get(2);
            assertThat(ref.approximateCount()).isEqualTo(3);
            ref.put(2);
            ref.kill();
            assertThat(releases).hasValue(2);
            assertThat(reported).isEmpty();
        }
    }

    @Nested
    class FailingExecutors {

        /** An executor that throws IllegalStateException ("Queue full") once its one slot is taken. */
        private final ArrayBlockingQueue<Runnable> queue = new ArrayBlockingQueue<>(1);

        @Test
        void anExecutorThrowingAnythingFallsBackToRunningTheCallbackInline() {
            queue.add(() -> { });
            PercpuRef ref = builder("queue-full").callbackExecutor(queue::add).build();
            ref.get();

            CompletionStage<Void> confirmed = ref.kill();

            assertThat(isDone(confirmed)).isTrue();
            assertThat(ref.isDying()).isTrue();
            ref.put();
            assertThat(releases).hasValue(1);
            assertThat(isDone(ref.released())).isTrue();
            assertThat(reported).hasSize(2).allSatisfy(e -> assertThat(e.getMessage())
                    .contains("'queue-full'").contains("callback executor"));
        }

        @Test
        void anExecutorThatRunsTheTaskAndThenThrowsDoesNotRunACallbackTwice() {
            AtomicInteger confirms = new AtomicInteger();
            PercpuRef ref = builder("runs-then-throws")
                    .onConfirmKill(r -> confirms.incrementAndGet())
                    .callbackExecutor(task -> {
                        task.run();
                        throw new IllegalStateException("accepted, then failed");
                    })
                    .build();

            ref.kill();

            assertThat(confirms).hasValue(1);
            assertThat(releases).hasValue(1);
        }

        @Test
        void aDirectExecutorRethrowsAnErrorFromTheReleaseCallbackAndReportsItOnce() {
            PercpuRef ref = builder("direct").initAtomic()
                    .onRelease(r -> {
                        throw new StackOverflowError("deep");
                    })
                    .callbackExecutor(Runnable::run)
                    .build();

            assertThatThrownBy(ref::put).isInstanceOf(StackOverflowError.class);
            assertThat(reported).singleElement().satisfies(e -> assertThat(e.getMessage())
                    .contains("release callback threw").doesNotContain("callback executor"));
            assertThat(isDone(ref.released())).isTrue();
        }

        @Test
        void aDirectExecutorKeepsAMisuseInsideTheConfirmTaskLoud() {
            PercpuRef ref = builder("direct-confirm").initAtomic()
                    .onConfirmKill(PercpuRef::put)   // misuse: drops the initial reference itself
                    .callbackExecutor(Runnable::run)
                    .build();

            assertThatIllegalStateException().isThrownBy(ref::kill).withMessageContaining("below zero");
            assertThat(reported).noneMatch(e -> e.getMessage().contains("callback executor"));
        }

        @Test
        void aConfirmCallbackThrowingAnErrorOnTheExecutorStillCompletesTheKillStage() throws Exception {
            ExecutorService executor = Executors.newSingleThreadExecutor();
            try {
                PercpuRef ref = builder("stack-overflow")
                        .onConfirmKill(r -> {
                            throw new StackOverflowError("deep");
                        })
                        .callbackExecutor(executor)
                        .build();

                CompletionStage<Void> confirmed = ref.kill();

                // The error is rethrown to the executor's thread after it is reported (an Error is
                // not swallowed); wait with get(), not Awaitility, which would catch it from there.
                assertThat(confirmed.toCompletableFuture().get(10, TimeUnit.SECONDS)).isNull();
                assertThat(ref.released().toCompletableFuture().get(10, TimeUnit.SECONDS)).isNull();
                assertThat(releases).hasValue(1);
                assertThat(reported).singleElement()
                        .satisfies(e -> assertThat(e.getCause()).isInstanceOf(StackOverflowError.class));
            } finally {
                executor.shutdownNow();
            }
        }

        @Test
        void aOneOffConfirmRunsAndTheStageCompletesEvenIfTheBuildersConfirmThrowsAnError() {
            AtomicBoolean oneOff = new AtomicBoolean();
            PercpuRef ref = builder("error-then-one-off")
                    .onConfirmKill(r -> {
                        throw new StackOverflowError("deep");
                    })
                    .build();

            CompletionStage<Void> confirmed;
            try {
                confirmed = ref.kill(r -> oneOff.set(true));
            } catch (StackOverflowError e) {
                confirmed = null;
            }

            assertThat(oneOff).isTrue();
            assertThat(releases).hasValue(1);
            assertThat(isDone(ref.released())).isTrue();
            if (confirmed != null) {
                assertThat(isDone(confirmed)).isTrue();
            }
        }
    }

    @Nested
    class ReleasingPhase {

        /** Keeps the tasks it is given until the test runs them. */
        private final List<Runnable> held = new ArrayList<>();

        private PercpuRef heldRelease(String name) {
            return builder(name).allowReinit().callbackExecutor(task -> {
                synchronized (held) {
                    held.add(task);
                }
            }).build();
        }

        private void runHeldTasks() {
            List<Runnable> tasks;
            synchronized (held) {
                tasks = new ArrayList<>(held);
                held.clear();
            }
            tasks.forEach(Runnable::run);
        }

        @ParameterizedTest(name = "{0}()")
        @ValueSource(strings = {"reinit", "resurrect"})
        void theNextLifeWaitsForAReleaseCallbackThatIsRunning(String op) throws Exception {
            ExecutorService executor = Executors.newSingleThreadExecutor();
            CountDownLatch inRelease = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            try {
                PercpuRef ref = PercpuRef.builder().name("releasing-" + op).allowReinit()
                        .callbackExecutor(executor)
                        .onRelease(r -> {
                            inRelease.countDown();
                            PercpuRefTest.awaitQuietly(finish);
                            releases.incrementAndGet();
                        })
                        .build();
                CompletionStage<Void> life1 = ref.released();
                ref.kill();
                assertThat(inRelease.await(10, TimeUnit.SECONDS)).isTrue();
                assertThat(ref.isZero()).isTrue();
                assertThat(ref.toString()).contains("RELEASING");

                CompletableFuture<Void> nextLife = CompletableFuture.runAsync(
                        op.equals("reinit") ? ref::reinit : ref::resurrect);
                await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(5)).until(() -> !nextLife.isDone());
                finish.countDown();
                nextLife.get(10, TimeUnit.SECONDS);

                assertThat(releases).hasValue(1);
                assertThat(isDone(life1)).isTrue();
                assertThat(ref.isDying()).isFalse();
                assertThat(isDone(ref.released())).isFalse();
                assertThat(ref.tryGetLive()).isTrue();
            } finally {
                finish.countDown();
                executor.shutdownNow();
            }
        }

        @Test
        void aWaitingReinitIgnoresAnInterruptButKeepsItsFlagAndAnUninterruptedOneSetsNone() throws Exception {
            ExecutorService executor = Executors.newSingleThreadExecutor();
            CountDownLatch inRelease = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            try {
                PercpuRef ref = PercpuRef.builder().name("interrupted-wait").allowReinit()
                        .callbackExecutor(executor)
                        .onRelease(r -> {
                            inRelease.countDown();
                            PercpuRefTest.awaitQuietly(finish);
                        })
                        .build();
                ref.kill();
                assertThat(inRelease.await(10, TimeUnit.SECONDS)).isTrue();
                AtomicBoolean interruptedAfter = new AtomicBoolean();
                Thread waiter = new Thread(() -> {
                    ref.reinit();
                    interruptedAfter.set(Thread.currentThread().isInterrupted());
                });
                waiter.start();
                await().atMost(Duration.ofSeconds(5)).until(() -> waiter.getState() == Thread.State.TIMED_WAITING);
                waiter.interrupt();
                await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(waiter::isAlive);
                finish.countDown();
                waiter.join(10_000);

                assertThat(interruptedAfter).as("the interrupt is kept for the caller").isTrue();
                assertThat(ref.isDying()).isFalse();

                PercpuRef queued = heldRelease("not-interrupted");
                queued.kill();
                runHeldTasks();                  // confirm; the release stays queued
                queued.reinit();                 // goes through the wait, running the release itself
                assertThat(Thread.interrupted()).as("no interrupt made up").isFalse();
            } finally {
                finish.countDown();
                executor.shutdownNow();
            }
        }

        @Test
        void reinitRunsAReleaseTheExecutorHasNotStartedInsteadOfWaitingForIt() {
            PercpuRef ref = heldRelease("queued-release");
            CompletionStage<Void> life1 = ref.released();
            ref.kill();
            runHeldTasks();                      // confirm: drops the initial reference, queues release
            assertThat(releases).hasValue(0);

            ref.reinit();                        // runs the queued release itself

            assertThat(releases).hasValue(1);
            assertThat(isDone(life1)).isTrue();
            runHeldTasks();                      // the queued task is now a no-op
            assertThat(releases).hasValue(1);
            assertThat(ref.isDying()).isFalse();
        }

        /** An event loop: the last put on the loop queues the release behind the running task. */
        @Test
        void reinitOnTheCallbackExecutorsOwnThreadDoesNotWaitForItself() throws Exception {
            ExecutorService loop = Executors.newSingleThreadExecutor();
            try {
                PercpuRef ref = builder("event-loop").initAtomic().callbackExecutor(loop).build();

                Future<?> task = loop.submit(() -> {
                    ref.put();
                    ref.reinit();
                });

                assertThat(task).succeedsWithin(Duration.ofSeconds(10));
                assertThat(releases).hasValue(1);
                assertThat(ref.isDying()).isFalse();
            } finally {
                loop.shutdownNow();
            }
        }

        @Test
        void reinitBehindAnExecutorThatDroppedTheReleaseRunsItAndReturns() throws Exception {
            PercpuRef ref = builder("discarding").initAtomic().callbackExecutor(task -> { }).build();
            ref.put();                           // the release task is silently dropped
            assertThat(releases).hasValue(0);

            CompletableFuture.runAsync(ref::reinit).get(10, TimeUnit.SECONDS);

            assertThat(releases).hasValue(1);
            assertThat(isDone(ref.released())).isFalse();
        }

        @Test
        void reinitFromInsideTheReleaseCallbackThrowsInsteadOfDeadlocking() {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<PercpuRef> self = new AtomicReference<>();
            PercpuRef ref = PercpuRef.builder().name("reinit-in-release").allowReinit()
                    .onRelease(r -> {
                        try {
                            r.reinit();
                        } catch (Throwable t) {
                            thrown.set(t);
                        }
                    })
                    .build();
            self.set(ref);

            ref.kill();

            assertThat(thrown.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("'reinit-in-release'").hasMessageContaining("release callback");
            assertThat(isDone(ref.released())).isTrue();
            ref.reinit();
            assertThat(ref.isDying()).isFalse();
        }

        @Test
        void resurrectFromInsideTheReleaseCallbackThrowsInsteadOfDeadlocking() {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            PercpuRef ref = PercpuRef.builder().name("resurrect-in-release").allowReinit()
                    .onRelease(r -> {
                        try {
                            r.resurrect();
                        } catch (Throwable t) {
                            thrown.set(t);
                        }
                    })
                    .build();

            ref.kill();

            assertThat(thrown.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("'resurrect-in-release'").hasMessageContaining("release callback");
            assertThat(ref.isZero()).isTrue();
        }

        @Test
        void afterAResurrectAnotherThreadCanKill() throws Exception {
            PercpuRef ref = builder("resurrect-unlocks").allowReinit().build();
            ref.get();
            ref.kill();
            ref.resurrect();

            CompletableFuture.runAsync(ref::kill).get(10, TimeUnit.SECONDS);

            assertThat(ref.isDying()).isTrue();
            ref.put();
            assertThat(releases).hasValue(1);
        }

        @Test
        void aReleasedStageDependentMayStartTheNextLife() {
            PercpuRef ref = builder("reinit-from-dependent").allowReinit().build();
            CompletableFuture<Void> next = ref.released().thenRun(ref::reinit).toCompletableFuture();

            ref.kill();

            assertThat(next).isCompleted().isNotCompletedExceptionally();
            assertThat(ref.isDying()).isFalse();
            assertThat(releases).hasValue(1);
        }

        @Test
        void aRefReleasedByItsLastPutWithoutAKillCountsAsDying() {
            PercpuRef ref = builder("atomic-no-kill").initAtomic().build();

            ref.put();

            assertThat(releases).hasValue(1);
            assertThat(ref.isZero()).isTrue();
            assertThat(ref.isDying()).isTrue();
            assertThat(ref.tryGetLive()).isFalse();
        }
    }

    @Nested
    class Messages {

        @Test
        void killOfARefBuiltDeadSaysItIsReleasedNotKilledTwice() {
            PercpuRef ref = builder("born-dead").initDead().build();

            assertThatIllegalStateException().isThrownBy(ref::kill)
                    .withMessageContaining("'born-dead'")
                    .withMessageContaining("kill() on a released ref")
                    .withMessageNotContaining("twice");
        }
    }

    @Nested
    class StripesAndSlots {

        @Test
        void contendedCountingInflatesAndThenCountsOnTheStripesNotTheSharedCount() throws Exception {
            PercpuRef ref = builder("contended").stripes(4).build();
            AtomicBoolean stop = new AtomicBoolean();
            Runnable count = () -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!stop.get() && !ref.inflated() && System.nanoTime() < deadline) {
                    for (int i = 0; i < 1_000; i++) {
                        ref.get();
                        ref.put();
                    }
                }
            };
            CompletableFuture<Void> other = CompletableFuture.runAsync(count);
            count.run();
            stop.set(true);
            other.get(30, TimeUnit.SECONDS);

            assertThat(ref.inflated()).as("two threads contending on base inflate the stripes").isTrue();
            assertThat(ref.approximateCount()).isEqualTo(1);
            long shared = ref.atomicPart();
            ref.get();
            assertThat(ref.tryGet()).isTrue();
            assertThat(ref.tryGetLive()).isTrue();
            assertThat(ref.atomicPart()).as("per-CPU gets stay off the shared count").isEqualTo(shared);
            assertThat(ref.approximateCount()).isEqualTo(4);
            ref.put(3);
            ref.kill();
            assertThat(releases).hasValue(1);
        }

        @Test
        void anUninflatedRefCountsOnItsBaseSlotNotTheSharedCount() {
            PercpuRef ref = builder("base-slot").build();
            long shared = ref.atomicPart();
            assertThat(shared).as("the bias and the initial reference").isEqualTo(PercpuRef.BIAS + 1);

            ref.get();
            assertThat(ref.tryGetLive()).isTrue();
            ref.put(2);

            assertThat(ref.atomicPart()).isEqualTo(shared);
            assertThat(ref.inflated()).isFalse();
        }

        /**
         * {@code Thread.getId()} is deprecated since Java 19 and not final: a subclass may return
         * anything (here the same id for every thread), and a stripe chosen from it would put all
         * such threads on one stripe. Where {@code Thread.threadId()} (final) exists, the stripe
         * comes from it.
         */
        @Test
        @EnabledForJreRange(min = JRE.JAVA_19)
        void threadsWhoseGetIdIsOverriddenStillGetStripesOfTheirOwn() throws Exception {
            PercpuRef ref = builder("overridden-get-id").stripes(64).build();
            ref.inflate();
            ExecutorService[] threads = new ExecutorService[2];
            int[] offsets = new int[2];
            try {
                for (int i = 0; i < threads.length; i++) {
                    threads[i] = Executors.newSingleThreadExecutor(runnable -> new Thread(runnable) {
                        @Override
                        @SuppressWarnings("deprecation")
                        public long getId() {
                            return 7;
                        }
                    });
                }
                for (int round = 0; round < 3; round++) {       // both count, in turn: a warm-up
                    for (ExecutorService thread : threads) {
                        thread.submit(() -> {
                            ref.get();
                            ref.put();
                        }).get(10, TimeUnit.SECONDS);
                    }
                }
                for (int i = 0; i < threads.length; i++) {
                    offsets[i] = threads[i].submit(ref::stripeOffset).get(10, TimeUnit.SECONDS);
                }
            } finally {
                for (ExecutorService thread : threads) {
                    thread.shutdownNow();
                }
            }

            assertThat(offsets[0]).as("two threads that have both counted count on different stripes")
                    .isNotEqualTo(offsets[1]);
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void oneStripeServesEveryThreadFromTheFirstStripe() throws Exception {
            PercpuRef ref = builder("one-stripe").stripes(1).build();
            ref.inflate();

            int here = ref.stripeOffset();
            int there = CompletableFuture.supplyAsync(ref::stripeOffset).get(10, TimeUnit.SECONDS);
            ref.get();
            ref.put();

            assertThat(here).isEqualTo(PercpuRef.FIRST_STRIPE).isEqualTo(there);
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void everyStripeOffsetIsInsideTheArray() throws Exception {
            PercpuRef ref = builder("all-stripes").stripes(8).build();
            ref.inflate();
            List<Integer> offsets = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                offsets.add(CompletableFuture.supplyAsync(() -> {
                    ref.get();
                    ref.put();
                    return ref.stripeOffset();
                }, runnable -> new Thread(runnable).start()).get(10, TimeUnit.SECONDS));
            }

            assertThat(offsets).allSatisfy(o -> assertThat(o).isBetween(PercpuRef.FIRST_STRIPE, 7 * PercpuRef.PAD + PercpuRef.FIRST_STRIPE)
                    .matches(x -> (x - PercpuRef.FIRST_STRIPE) % PercpuRef.PAD == 0));
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void defaultStripesAreTwiceTheProcessorsRoundedUpToAPowerOfTwoAtMost64() {
            int cpus = Runtime.getRuntime().availableProcessors();
            int expected = 1;
            while (expected < 2 * cpus) {
                expected <<= 1;
            }

            assertThat(builder("default-stripes").build().stripeCount()).isEqualTo(Math.min(64, expected));
            assertThat(builder("configured-stripes").stripes(2).build().stripeCount()).isEqualTo(2);
        }

        @Test
        void anUninflatedRefResurrectedCountsOnItsBaseSlotAgainAndCanStillInflate() {
            PercpuRef ref = builder("uninflated-resurrect").allowReinit().build();
            ref.get();
            ref.kill();
            ref.resurrect();

            long shared = ref.atomicPart();
            ref.get();
            assertThat(ref.atomicPart()).as("base is unsealed again").isEqualTo(shared);
            ref.inflate();
            assertThat(ref.inflated()).isTrue();
            ref.put(2);
            ref.kill();

            assertThat(releases).hasValue(1);
        }

        @Test
        void anInflatedRefResurrectedCountsOnItsStripesAgainAndReleasesOnce() {
            PercpuRef ref = builder("inflated-resurrect").stripes(4).allowReinit().build();
            ref.inflate();
            ref.get();
            ref.kill();
            ref.resurrect();

            long shared = ref.atomicPart();
            ref.get();
            assertThat(ref.atomicPart()).as("the stripes are unsealed again").isEqualTo(shared);
            ref.put(2);
            ref.kill();

            assertThat(releases).hasValue(1);
            assertThat(reported).isEmpty();
        }

        @Test
        void anInflatedRefReinitializedCountsOnItsStripesAgainAndReleasesOncePerLife() {
            PercpuRef ref = builder("inflated-reinit").stripes(4).allowReinit().build();
            ref.inflate();
            ref.kill();
            ref.reinit();

            long shared = ref.atomicPart();
            ref.get();
            assertThat(ref.atomicPart()).isEqualTo(shared);
            ref.put();
            ref.kill();

            assertThat(releases).hasValue(2);
            assertThat(reported).isEmpty();
        }
    }

    @Nested
    class Reporting {

        @Test
        void withoutAReporterFailuresAreLoggedAtErrorWithTheirCause() {
            List<java.util.logging.LogRecord> logged;
            try (CapturedLog log = CapturedLog.of(PercpuRef.class, r -> true)) {
                logged = log.records();
                PercpuRef ref = PercpuRef.builder().name("logged")
                        .onRelease(r -> {
                            throw new IllegalStateException("disk on fire");
                        })
                        .build();

                ref.kill();
            }

            assertThat(logged).singleElement().satisfies(record -> {
                assertThat(record.getLevel()).isEqualTo(java.util.logging.Level.SEVERE);
                assertThat(record.getMessage()).contains("'logged'").contains("release callback threw");
                assertThat(record.getThrown()).isInstanceOf(PercpuRefException.class)
                        .hasRootCauseMessage("disk on fire");
            });
        }

        @Test
        void aReporterThatThrowsIsLoggedWithItsFailureSuppressedAndNothingEscapes() {
            List<java.util.logging.LogRecord> logged;
            try (CapturedLog log = CapturedLog.of(PercpuRef.class, r -> true)) {
                logged = log.records();
                PercpuRef ref = PercpuRef.builder().name("reporter-throws")
                        .onRelease(r -> {
                            throw new IllegalStateException("disk on fire");
                        })
                        .errorReporter(e -> {
                            throw new UnsupportedOperationException("reporter down");
                        })
                        .build();

                ref.kill();

                assertThat(isDone(ref.released())).isTrue();
            }

            assertThat(logged).singleElement().satisfies(record -> {
                assertThat(record.getMessage()).contains("'reporter-throws'");
                assertThat(record.getThrown()).hasRootCauseMessage("disk on fire");
                assertThat(record.getThrown().getSuppressed()).singleElement()
                        .satisfies(t -> assertThat(t).hasMessage("reporter down"));
            });
        }
    }

    @Nested
    class Diagnostics {

        /**
         * approximateCount() read the state, then the count: a switch that moved the bias in between
         * made it return about ±2^62. Every value read while switches run must be one the count could
         * have had: here, between 1 and 2.
         */
        @Test
        @Timeout(60)
        void approximateCountNeverShowsTheBiasWhileModeSwitchesRun() throws Exception {
            PercpuRef ref = builder("switching").allowReinit().build();
            ref.get();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong worst = new AtomicLong(1);
            Thread reader = new Thread(() -> {
                while (!stop.get()) {
                    long c = ref.approximateCount();
                    if (c != 2) {
                        worst.set(c);
                        stop.set(true);
                    }
                }
            }, "reader");
            reader.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (!stop.get() && System.nanoTime() < deadline) {
                ref.switchToAtomicSync();
                ref.switchToPercpu();
            }
            stop.set(true);
            reader.join();

            assertThat(worst).as("a count other than the 2 references held").hasValue(1);
        }

        @Test
        void approximateCountReadUnderTheLockIsTheSameCount() {
            PercpuRef ref = builder("locked-read").build();
            ref.get(3);

            assertThat(ref.approximateCount(0)).isEqualTo(4);
            ref.kill();
            assertThat(ref.approximateCount(0)).isEqualTo(3);
        }

        /**
         * A failed CAS on the uninflated base slot used to inflate even when the seal caused it: a
         * ref being killed could allocate a stripe array nobody would use. A single thread counting
         * against a kill never contends with anyone, so it must never inflate the ref.
         */
        @Test
        @Timeout(60)
        void aSealAloneNeverInflatesTheStripes() throws Exception {
            AtomicReference<PercpuRef> current = new AtomicReference<>();
            AtomicLong iterations = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            Thread counter = new Thread(() -> {
                while (!stop.get()) {
                    PercpuRef ref = current.get();
                    if (ref != null && ref.tryGet()) {
                        ref.put();
                    }
                    iterations.lazySet(iterations.get() + 1);
                }
            }, "counter");
            counter.start();
            List<PercpuRef> killed = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            try {
                while (System.nanoTime() < deadline || killed.size() < 5_000) {
                    PercpuRef ref = builder("seal-race").stripes(2).build();
                    current.set(ref);
                    long seen = iterations.get();
                    while (iterations.get() < seen + 50) {
                        Thread.onSpinWait();
                    }
                    ref.kill();
                    killed.add(ref);
                }
            } finally {
                stop.set(true);
                counter.join();
            }
            assertThat(killed).as("refs inflated by their seal alone, of %d", killed.size())
                    .noneMatch(PercpuRef::inflated);
        }
    }
}
