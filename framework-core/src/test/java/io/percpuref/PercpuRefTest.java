package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The sequential contract of {@link PercpuRef}: one test per operation of SPEC §3.2 and per misuse
 * of §3.3.5. Concurrency is covered by the Lincheck, jcstress and stress tests.
 */
class PercpuRefTest {

    private final AtomicInteger releases = new AtomicInteger();
    private final AtomicInteger confirms = new AtomicInteger();
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();

    private PercpuRef.Builder builder(String name) {
        return PercpuRef.builder()
                .name(name)
                .onRelease(r -> {
                    releases.incrementAndGet();
                    events.add("release");
                })
                .onConfirmKill(r -> {
                    confirms.incrementAndGet();
                    events.add("confirm");
                })
                .errorReporter(reported::add);
    }

    private PercpuRef ref(String name) {
        return builder(name).build();
    }

    private static boolean isDone(CompletionStage<Void> stage) {
        return stage.toCompletableFuture().isDone();
    }

    @Nested
    class Construction {

        @Test
        void newRefIsLivePercpuAndHoldsTheInitialReference() {
            PercpuRef ref = ref("fresh");

            assertThat(ref.isDying()).isFalse();
            assertThat(ref.isZero()).isFalse();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThat(ref.name()).isEqualTo("fresh");
        }

        @Test
        void createShorthandReleasesWhenKilled() {
            AtomicInteger freed = new AtomicInteger();
            PercpuRef ref = PercpuRef.create(freed::incrementAndGet);

            ref.kill();

            assertThat(freed).hasValue(1);
            assertThat(ref.name()).startsWith("percpu-ref-");
        }

        @Test
        void unnamedRefsGetDistinctGeneratedNames() {
            PercpuRef a = PercpuRef.create(() -> { });
            PercpuRef b = PercpuRef.create(() -> { });

            assertThat(a.name()).isNotEqualTo(b.name());
        }

        @Test
        void initAtomicStartsAtomicWithForceAtomicAndAllowsReinit() {
            PercpuRef ref = builder("atomic").initAtomic().build();

            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
            assertThat(ref.approximateCount()).isEqualTo(1);

            ref.kill();
            ref.reinit();

            assertThat(ref.mode()).as("force-atomic is sticky across reinit").isEqualTo(PercpuRef.Mode.ATOMIC);
        }

        @Test
        void initAtomicRefGoesPercpuOnlyAfterSwitchToPercpu() {
            PercpuRef ref = builder("atomic").initAtomic().build();

            ref.switchToPercpu();

            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void initDeadStartsDeadAtomicAtZeroWithoutRelease() {
            PercpuRef ref = builder("dead").initDead().build();

            assertThat(ref.isDying()).isTrue();
            assertThat(ref.isZero()).isTrue();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
            assertThat(releases).hasValue(0);
            assertThat(ref.tryGet()).isFalse();
            assertThat(ref.tryGetLive()).isFalse();
            assertThat(isDone(ref.released())).as("an initDead ref counts as released").isTrue();
        }

        @Test
        void initDeadRefComesToLifeOnlyThroughReinit() {
            PercpuRef ref = builder("dead").initDead().build();

            ref.reinit();

            assertThat(ref.isDying()).isFalse();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.tryGetLive()).isTrue();
            ref.put();
            assertThat(isDone(ref.released())).as("the new life has its own stage").isFalse();
            ref.kill();
            assertThat(releases).hasValue(1);
        }

        @Test
        void builderRejectsNullAndBlankNames() {
            assertThatNullPointerException().isThrownBy(() -> PercpuRef.builder().name(null)).withMessage("name");
            assertThatIllegalArgumentException().isThrownBy(() -> PercpuRef.builder().name("  "));
        }

        @Test
        void builderRequiresAReleaseCallback() {
            assertThatIllegalStateException()
                    .isThrownBy(() -> PercpuRef.builder().name("no-release").build())
                    .withMessageContaining("'no-release'")
                    .withMessageContaining("onRelease");
        }

        @Test
        void builderRejectsNullCallbacksNamingTheArgument() {
            PercpuRef.Builder b = PercpuRef.builder();
            assertThatNullPointerException().isThrownBy(() -> b.onRelease(null)).withMessage("onRelease");
            assertThatNullPointerException().isThrownBy(() -> b.onConfirmKill(null)).withMessage("onConfirmKill");
            assertThatNullPointerException().isThrownBy(() -> b.callbackExecutor(null)).withMessage("executor");
            assertThatNullPointerException().isThrownBy(() -> b.errorReporter(null)).withMessage("reporter");
            assertThatNullPointerException().isThrownBy(() -> PercpuRef.create(null)).withMessage("release");
            assertThatNullPointerException().isThrownBy(() -> PercpuRef.setErrorReporter(null)).withMessage("reporter");
        }

        @Test
        void builderAcceptsOnlyPowerOfTwoStripeCounts() {
            assertThatIllegalArgumentException().isThrownBy(() -> PercpuRef.builder().stripes(3))
                    .withMessageContaining("power of two");
            assertThatIllegalArgumentException().isThrownBy(() -> PercpuRef.builder().stripes(0));
            assertThatIllegalArgumentException().isThrownBy(() -> PercpuRef.builder().stripes(1 << 17));
            assertThat(builder("one").stripes(1).build().tryGet()).isTrue();
        }
    }

    @Nested
    class GetAndPut {

        @Test
        void balancedGetsAndPutsLeaveTheCountAndDoNotRelease() {
            PercpuRef ref = ref("balanced");

            ref.get();
            ref.get(5);
            ref.put(5);
            ref.put();

            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThat(releases).hasValue(0);
        }

        @Test
        void putInPercpuModeNeverReleasesEvenBelowTheInitialReference() {
            PercpuRef ref = ref("percpu-zero");

            ref.put();

            assertThat(ref.isZero()).as("zero is never detected in per-CPU mode").isFalse();
            assertThat(releases).hasValue(0);
        }

        @Test
        void theLastPutAfterKillRunsReleaseOnce() {
            PercpuRef ref = ref("last-put");
            ref.get(2);

            ref.kill();
            ref.put();
            assertThat(releases).hasValue(0);
            ref.put();

            assertThat(releases).hasValue(1);
            assertThat(ref.isZero()).isTrue();
        }

        @Test
        void getAndPutWorkOnADyingRefWithHolders() {
            PercpuRef ref = ref("dying-get");
            ref.get();
            ref.kill();

            ref.get(3);
            ref.put(3);

            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.put();
            assertThat(releases).hasValue(1);
        }

        @Test
        void countsFromManyThreadsSumExactlyAfterInflation() throws Exception {
            PercpuRef ref = builder("inflated").stripes(8).build();
            int threads = 4;
            int perThread = 10_000;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                CountDownLatch start = new CountDownLatch(1);
                for (int t = 0; t < threads; t++) {
                    pool.execute(() -> {
                        awaitQuietly(start);
                        for (int i = 0; i < perThread; i++) {
                            ref.get();
                        }
                    });
                }
                start.countDown();
                pool.shutdown();
                assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
            } finally {
                pool.shutdownNow();
            }

            assertThat(ref.approximateCount()).isEqualTo(1L + threads * perThread);
            ref.kill();
            ref.put((long) threads * perThread);
            assertThat(releases).hasValue(1);
        }
    }

    @Nested
    class TryGet {

        @Test
        void tryGetSucceedsOnALiveRef() {
            PercpuRef ref = ref("tryget-live");

            assertThat(ref.tryGet()).isTrue();
            assertThat(ref.tryGet(4)).isTrue();
            assertThat(ref.approximateCount()).isEqualTo(6);
        }

        @Test
        void tryGetSucceedsOnADyingRefThatStillHasHolders() {
            PercpuRef ref = ref("tryget-dying");
            ref.get();
            ref.kill();

            assertThat(ref.tryGet()).isTrue();
            assertThat(ref.tryGet(2)).isTrue();
            assertThat(ref.approximateCount()).isEqualTo(4);
        }

        @Test
        void tryGetFailsOnlyOnceTheCountIsZero() {
            PercpuRef ref = ref("tryget-zero");
            ref.kill();

            assertThat(ref.tryGet()).isFalse();
            assertThat(ref.tryGet(3)).isFalse();
            assertThat(ref.approximateCount()).isZero();
        }

        @Test
        void tryGetLiveSucceedsWhileLive() {
            PercpuRef ref = ref("live");

            assertThat(ref.tryGetLive()).isTrue();
            assertThat(ref.approximateCount()).isEqualTo(2);
        }

        @Test
        void tryGetLiveFailsOnADyingRefEvenWithHolders() {
            PercpuRef ref = ref("live-dying");
            ref.get();
            ref.kill();

            assertThat(ref.tryGetLive()).isFalse();
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void tryGetLiveOnAForcedAtomicLiveRefSucceeds() {
            PercpuRef ref = ref("live-atomic");
            ref.switchToAtomicSync();

            assertThat(ref.tryGetLive()).isTrue();
            assertThat(ref.approximateCount()).isEqualTo(2);
        }
    }

    @Nested
    class Kill {

        @Test
        void killMarksDyingSwitchesToAtomicAndDropsTheInitialReference() {
            PercpuRef ref = ref("kill");
            ref.get();

            CompletionStage<Void> confirmed = ref.kill();

            assertThat(isDone(confirmed)).as("no grace period: confirmed before kill returns").isTrue();
            assertThat(ref.isDying()).isTrue();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThat(confirms).hasValue(1);
        }

        @Test
        void killWithConfirmRunsTheOneOffCallbackAfterTheBuildersOne() {
            PercpuRef ref = ref("kill-confirm");
            ref.get();

            ref.kill(r -> events.add("one-off confirm of " + r.name()));

            assertThat(events).containsExactly("confirm", "one-off confirm of kill-confirm");
        }

        @Test
        void confirmAndTheKillStageCompleteStrictlyBeforeRelease() {
            java.util.ArrayDeque<Runnable> queued = new java.util.ArrayDeque<>();
            PercpuRef ref = builder("order").callbackExecutor(queued::add).build();

            ref.kill(r -> events.add("one-off")).thenRun(() -> events.add("stage"));
            assertThat(events).as("callbacks wait for the executor").isEmpty();
            while (!queued.isEmpty()) {
                queued.poll().run();
            }

            assertThat(events).containsExactly("confirm", "one-off", "stage", "release");
        }

        @Test
        void killWithNullConfirmThrowsNamingTheArgument() {
            PercpuRef ref = ref("null-confirm");

            assertThatNullPointerException().isThrownBy(() -> ref.kill(null)).withMessage("confirm");
            assertThat(ref.isDying()).isFalse();
        }

        @Test
        void releasedStageCompletesAfterTheReleaseCallback() {
            PercpuRef ref = ref("released-stage");
            ref.get();
            CompletionStage<Void> released = ref.released();
            released.thenRun(() -> events.add("released stage"));

            ref.kill();
            assertThat(isDone(released)).isFalse();
            ref.put();

            assertThat(isDone(released)).isTrue();
            assertThat(events).containsExactly("confirm", "release", "released stage");
        }
    }

    @Nested
    class ModeSwitches {

        @Test
        void switchToAtomicReturnsACompletedStageAndKeepsTheCount() {
            PercpuRef ref = ref("to-atomic");
            ref.get(3);

            CompletionStage<Void> switched = ref.switchToAtomic();

            assertThat(isDone(switched)).isTrue();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
            assertThat(ref.approximateCount()).isEqualTo(4);
            assertThat(ref.isDying()).isFalse();
        }

        @Test
        void switchToPercpuOnALiveRefSwitchesNowAndKeepsTheCount() {
            PercpuRef ref = ref("to-percpu");
            ref.get(2);
            ref.switchToAtomicSync();

            ref.switchToPercpu();

            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(3);
            ref.put(2);
            ref.kill();
            assertThat(releases).hasValue(1);
        }

        @Test
        void forceAtomicIsStickyAcrossKillAndResurrect() {
            PercpuRef ref = builder("sticky").allowReinit().build();
            ref.switchToAtomicSync();

            ref.get();
            ref.kill();
            ref.resurrect();

            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
        }

        @Test
        void switchToPercpuOnADyingRefTakesEffectAtResurrect() {
            PercpuRef ref = builder("deferred").allowReinit().build();
            ref.switchToAtomicSync();
            ref.get();
            ref.kill();

            ref.switchToPercpu();
            assertThat(ref.mode()).as("a dying ref stays atomic").isEqualTo(PercpuRef.Mode.ATOMIC);
            ref.resurrect();

            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(2);
        }

        @Test
        void putThatReachesZeroInForcedAtomicModeReleasesWithoutKill() {
            PercpuRef ref = ref("atomic-zero");
            ref.switchToAtomicSync();

            ref.put();

            assertThat(releases).hasValue(1);
            assertThat(ref.isZero()).isTrue();
            assertThat(ref.isDying()).as("released, so dying or released").isTrue();
        }

        @Test
        void isZeroIsFalseInPercpuModeAndTrueOnlyAtZeroInAtomicMode() {
            PercpuRef ref = ref("is-zero");
            assertThat(ref.isZero()).isFalse();

            ref.get();
            ref.kill();
            assertThat(ref.isZero()).isFalse();

            ref.put();
            assertThat(ref.isZero()).isTrue();
        }
    }

    @Nested
    class ResurrectAndReinit {

        @Test
        void resurrectWithHoldersContinuesTheSameLife() {
            PercpuRef ref = builder("resurrect-held").allowReinit().build();
            ref.get();
            CompletionStage<Void> released = ref.released();
            ref.kill();

            ref.resurrect();

            assertThat(ref.isDying()).isFalse();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(2);
            assertThat(ref.tryGetLive()).isTrue();
            ref.put(2);
            ref.kill();
            assertThat(releases).hasValue(1);
            assertThat(isDone(released)).as("same life, same stage").isTrue();
        }

        @Test
        void resurrectFromZeroStartsANewLifeWithAFreshReleasedStage() {
            PercpuRef ref = builder("resurrect-zero").allowReinit().build();
            ref.kill();
            CompletionStage<Void> first = ref.released();
            assertThat(isDone(first)).isTrue();

            ref.resurrect();

            CompletionStage<Void> second = ref.released();
            assertThat(isDone(second)).isFalse();
            assertThat(ref.isZero()).isFalse();
            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.kill();
            assertThat(releases).hasValue(2);
            assertThat(isDone(second)).isTrue();
        }

        @Test
        void reinitBringsAReleasedRefBackAsFreshlyBuilt() {
            PercpuRef ref = builder("reinit").allowReinit().build();
            ref.kill();

            ref.reinit();

            assertThat(ref.isDying()).isFalse();
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
            assertThat(ref.approximateCount()).isEqualTo(1);
            ref.kill();
            assertThat(releases).hasValue(2);
            assertThat(confirms).hasValue(2);
        }

        @Test
        void killCanBeCalledAgainAfterResurrect() {
            PercpuRef ref = builder("kill-again").allowReinit().build();
            ref.get();
            ref.kill();
            ref.resurrect();

            ref.kill();
            ref.put();

            assertThat(confirms).hasValue(2);
            assertThat(releases).hasValue(1);
        }
    }

    @Nested
    class Misuse {

        @Test
        void secondKillInOneLifeThrowsAndChangesNothing() {
            PercpuRef ref = ref("double-kill");
            ref.get();
            ref.kill();

            assertThatIllegalStateException().isThrownBy(ref::kill)
                    .withMessageContaining("'double-kill'")
                    .withMessageContaining("DYING")
                    .withMessageContaining("kill() called twice");
            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThat(confirms).hasValue(1);
            assertThat(releases).hasValue(0);
        }

        @Test
        void killOnAReleasedRefThrows() {
            PercpuRef ref = ref("kill-released");
            ref.switchToAtomicSync();
            ref.put();

            assertThatIllegalStateException().isThrownBy(ref::kill)
                    .withMessageContaining("'kill-released'")
                    .withMessageContaining("RELEASED");
        }

        @Test
        void putBelowZeroInAtomicModeThrowsLeavesZeroAndDoesNotReleaseAgain() {
            PercpuRef ref = ref("over-put");
            ref.kill();

            assertThatIllegalStateException().isThrownBy(ref::put)
                    .withMessageContaining("'over-put'")
                    .withMessageContaining("RELEASED")
                    .withMessageContaining("below zero");
            assertThatIllegalStateException().isThrownBy(() -> ref.put(2));
            assertThat(ref.approximateCount()).isZero();
            assertThat(ref.isZero()).isTrue();
            assertThat(releases).hasValue(1);
        }

        @Test
        void putBelowZeroWithHoldersLeavesTheCountUnchanged() {
            PercpuRef ref = ref("over-put-many");
            ref.get(2);
            ref.kill();

            assertThatIllegalStateException().isThrownBy(() -> ref.put(3));

            assertThat(ref.approximateCount()).isEqualTo(2);
            assertThat(releases).hasValue(0);
        }

        @Test
        void overPutInPercpuModeIsReportedAtKillWithTheNegativeSum() {
            PercpuRef ref = ref("percpu-over-put");
            ref.put(3);

            ref.kill();

            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e.refName()).isEqualTo("percpu-over-put");
                assertThat(e.getMessage())
                        .contains("'percpu-over-put'")
                        .contains("over-put")
                        .contains("summed to -2")
                        .contains("(3 more put than get in per-CPU mode)");
            });
            assertThat(releases).as("the initial reference is still dropped once").hasValue(1);
        }

        @Test
        void overPutInPercpuModeIsReportedAtSwitchToAtomic() {
            PercpuRef ref = ref("switch-over-put");
            ref.put(2);

            ref.switchToAtomicSync();

            assertThat(reported).singleElement()
                    .satisfies(e -> assertThat(e.getMessage()).contains("summed to -1"));
            assertThat(ref.approximateCount()).isEqualTo(1);
            assertThat(releases).hasValue(0);
        }

        /** Linux md's writes_pending: start at zero, count in per-CPU mode, switch, test for zero. */
        @Test
        void aSwitchThatFindsTheCountAtZeroReleasesLikeTheKernel() {
            PercpuRef ref = builder("writes-pending").allowReinit().build();
            ref.put();          // start at zero: legal in per-CPU mode, nothing is detected
            ref.get();
            ref.put();

            ref.switchToAtomicSync();

            assertThat(reported).isEmpty();
            assertThat(ref.isZero()).isTrue();
            assertThat(releases).hasValue(1);
            assertThat(isDone(ref.released())).isTrue();
            ref.reinit();
            assertThat(ref.isZero()).isFalse();
        }

        @Test
        void getOnAReleasedRefThrows() {
            PercpuRef ref = ref("get-released");
            ref.kill();

            assertThatIllegalStateException().isThrownBy(ref::get)
                    .withMessageContaining("'get-released'")
                    .withMessageContaining("RELEASED");
            assertThatIllegalStateException().isThrownBy(() -> ref.get(2));
            assertThat(ref.approximateCount()).isZero();
        }

        @Test
        void nonPositiveCountsThrowIllegalArgument() {
            PercpuRef ref = ref("bad-n");

            assertThatIllegalArgumentException().isThrownBy(() -> ref.get(0)).withMessageContaining("'bad-n'");
            assertThatIllegalArgumentException().isThrownBy(() -> ref.put(-1)).withMessageContaining("was -1");
            assertThatIllegalArgumentException().isThrownBy(() -> ref.tryGet(0));
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void resurrectAndReinitRequireAllowReinit() {
            PercpuRef ref = ref("no-reinit");
            ref.kill();

            assertThatIllegalStateException().isThrownBy(ref::resurrect)
                    .withMessageContaining("'no-reinit'")
                    .withMessageContaining("allowReinit");
            assertThatIllegalStateException().isThrownBy(ref::reinit).withMessageContaining("allowReinit");
            assertThat(ref.isZero()).isTrue();
        }

        @Test
        void resurrectOnALiveRefThrows() {
            PercpuRef ref = builder("resurrect-live").allowReinit().build();

            assertThatIllegalStateException().isThrownBy(ref::resurrect)
                    .withMessageContaining("LIVE")
                    .withMessageContaining("requires a dying ref");
            assertThat(ref.approximateCount()).isEqualTo(1);
        }

        @Test
        void reinitOnALiveOrStillHeldRefThrows() {
            PercpuRef ref = builder("reinit-held").allowReinit().build();
            assertThatIllegalStateException().isThrownBy(ref::reinit).withMessageContaining("LIVE");

            ref.get();
            ref.kill();

            assertThatIllegalStateException().isThrownBy(ref::reinit)
                    .withMessageContaining("DYING")
                    .withMessageContaining("requires a released ref");
            assertThat(ref.approximateCount()).isEqualTo(1);
        }
    }

    @Nested
    class Callbacks {

        @AfterEach
        void restoreDefaultReporter() {
            PercpuRef.resetErrorReporter();
        }

        @Test
        void throwingReleaseCallbackIsReportedAndTheRefStillCountsAsReleased() {
            PercpuRef ref = PercpuRef.builder().name("bad-release")
                    .onRelease(r -> {
                        throw new IllegalStateException("disk on fire");
                    })
                    .errorReporter(reported::add)
                    .build();

            ref.kill();

            assertThat(reported).singleElement().satisfies(e -> {
                assertThat(e.getMessage()).contains("'bad-release'").contains("release callback threw");
                assertThat(e.getCause()).hasMessage("disk on fire");
            });
            assertThat(ref.isZero()).isTrue();
            assertThat(isDone(ref.released())).isTrue();
        }

        @Test
        void throwingConfirmCallbackIsReportedAndReleaseStillRunsAfterIt() {
            PercpuRef ref = PercpuRef.builder().name("bad-confirm")
                    .onConfirmKill(r -> {
                        events.add("confirm");
                        throw new IllegalArgumentException("table gone");
                    })
                    .onRelease(r -> events.add("release"))
                    .errorReporter(reported::add)
                    .build();

            CompletionStage<Void> confirmed = ref.kill();

            assertThat(confirmed.toCompletableFuture()).isCompleted().isNotCompletedExceptionally();
            assertThat(events).containsExactly("confirm", "release");
            assertThat(reported).singleElement()
                    .satisfies(e -> assertThat(e.getMessage()).contains("confirm callback threw"));
            assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.ATOMIC);
        }

        @Test
        void callbacksRunOnTheCallbackExecutorInOrder() {
            ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "callbacks"));
            try {
                AtomicReference<String> releaseThread = new AtomicReference<>();
                PercpuRef ref = PercpuRef.builder().name("executor")
                        .onConfirmKill(r -> events.add("confirm on " + Thread.currentThread().getName()))
                        .onRelease(r -> {
                            releaseThread.set(Thread.currentThread().getName());
                            events.add("release");
                        })
                        .callbackExecutor(executor)
                        .build();

                CompletionStage<Void> confirmed = ref.kill();

                await().atMost(Duration.ofSeconds(10)).until(() -> isDone(ref.released()));
                assertThat(isDone(confirmed)).isTrue();
                assertThat(releaseThread).hasValue("callbacks");
                assertThat(events).containsExactly("confirm on callbacks", "release");
            } finally {
                executor.shutdownNow();
            }
        }

        @Test
        void rejectedCallbackIsReportedAndRunsInline() {
            PercpuRef ref = PercpuRef.builder().name("rejecting")
                    .onRelease(r -> events.add("release"))
                    .callbackExecutor(task -> {
                        throw new RejectedExecutionException("pool shut down");
                    })
                    .errorReporter(reported::add)
                    .build();

            ref.kill();

            assertThat(events).containsExactly("release");
            assertThat(reported).hasSize(2).allSatisfy(e -> assertThat(e.getMessage()).contains("rejected"));
        }

        @Test
        void processWideReporterReceivesFailuresOfRefsWithoutTheirOwn() {
            PercpuRef.setErrorReporter(reported::add);
            PercpuRef ref = PercpuRef.builder().name("global-reporter")
                    .onRelease(r -> {
                        throw new IllegalStateException("boom");
                    })
                    .build();

            ref.kill();

            assertThat(reported).singleElement().satisfies(e -> assertThat(e.refName()).isEqualTo("global-reporter"));
        }

        @Test
        void aBlockedReleaseCallbackDoesNotBlockOtherRefsOrThisRefsQueries() throws Exception {
            CountDownLatch inRelease = new CountDownLatch(1);
            CountDownLatch unblock = new CountDownLatch(1);
            PercpuRef slow = PercpuRef.builder().name("slow")
                    .onRelease(r -> {
                        inRelease.countDown();
                        awaitQuietly(unblock);
                    })
                    .build();
            PercpuRef other = ref("other");
            CompletableFuture<Void> killing = CompletableFuture.runAsync(slow::kill);
            try {
                assertThat(inRelease.await(10, TimeUnit.SECONDS)).isTrue();

                other.switchToAtomicSync();
                other.kill();
                assertThat(slow.isZero()).isTrue();
                assertThat(slow.released().toCompletableFuture()).isNotDone();
                assertThat(releases).hasValue(1);
            } finally {
                unblock.countDown();
                killing.get(10, TimeUnit.SECONDS);
            }
            assertThat(slow.released().toCompletableFuture()).isDone();
        }

        @Test
        void releasedStageCannotBeCompletedByCallers() {
            PercpuRef ref = ref("read-only-stage");

            CompletableFuture<Void> copy = ref.released().toCompletableFuture();
            copy.complete(null);

            assertThat(ref.released().toCompletableFuture()).isNotDone();
        }
    }

    @Nested
    class Diagnostics {

        @Test
        void toStringShowsNameLifeModeAndCount() {
            PercpuRef ref = ref("diag");
            ref.get();

            assertThat(ref).hasToString("PercpuRef[diag: LIVE, PERCPU, count=2]");
            ref.kill();
            assertThat(ref).hasToString("PercpuRef[diag: DYING, ATOMIC, count=1]");
            ref.put();
            assertThat(ref).hasToString("PercpuRef[diag: RELEASED, ATOMIC, count=0]");
        }

        @Test
        void toStringMarksForcedAtomicMode() {
            PercpuRef ref = ref("forced");
            ref.switchToAtomicSync();

            assertThat(ref.toString()).contains("ATOMIC (forced)");
        }
    }

    static void awaitQuietly(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released in 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
