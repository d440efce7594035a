package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Probes of 3e1e601's lazily made control lock, the Hooks object and the constant bits of state:
 * paths that run before any control op made the lock, races of first control ops, and the cap and
 * allowReinit bits across many switch steps (the sequence wraps above them).
 */
class LazyControlAttack3Test {

    @Test
    @Timeout(20)
    void initAtomicRefReleasedFirstThenPutToZeroThenReinit() {
        AtomicInteger releases = new AtomicInteger();
        PercpuRef ref = PercpuRef.builder().initAtomic().onRelease(r -> releases.incrementAndGet()).build();
        assertThat(ref.toString()).contains("LIVE", "ATOMIC", "count=1");
        assertThat(ref.approximateCount(0)).isEqualTo(1); // lock fallback makes the lock
        CompletableFuture<Void> first = ref.released().toCompletableFuture();
        ref.put();
        assertThat(first).isDone();
        assertThat(releases).hasValue(1);
        assertThat(ref.toString()).contains("RELEASED");
        ref.reinit();
        CompletableFuture<Void> second = ref.released().toCompletableFuture();
        assertThat(second).isNotDone();
        ref.put();
        assertThat(second).isDone();
        assertThat(releases).hasValue(2);
    }

    @Test
    @Timeout(20)
    void initAtomicRefPutToZeroWithNoControlOpBefore() {
        AtomicInteger releases = new AtomicInteger();
        PercpuRef ref = PercpuRef.builder().initAtomic().onRelease(r -> releases.incrementAndGet()).build();
        ref.get(3);
        ref.put(4);
        assertThat(releases).hasValue(1);
        assertThat(ref.isZero()).isTrue();
        assertThat(ref.isDying()).isTrue();
        assertThat(ref.released().toCompletableFuture()).isDone();
        assertThatThrownBy(ref::put).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @Timeout(20)
    void freshRefsMisuseBeforeAnyControlOpIsAnIllegalStateNotANpe() {
        PercpuRef plain = PercpuRef.builder().onRelease(r -> { }).build();
        assertThatThrownBy(plain::reinit).isInstanceOf(IllegalStateException.class).hasMessageContaining("allowReinit");
        assertThatThrownBy(plain::resurrect).isInstanceOf(IllegalStateException.class).hasMessageContaining("allowReinit");
        PercpuRef reinitable = PercpuRef.builder().allowReinit().onRelease(r -> { }).build();
        assertThatThrownBy(reinitable::reinit).isInstanceOf(IllegalStateException.class).hasMessageContaining("released");
        assertThatThrownBy(reinitable::resurrect).isInstanceOf(IllegalStateException.class).hasMessageContaining("dying");
        assertThatThrownBy(() -> plain.get(0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(plain.toString()).contains("LIVE", "PERCPU", "count=1");
        assertThat(reinitable.approximateCount(0)).isEqualTo(1);
        PercpuRef dead = PercpuRef.builder().initDead().onRelease(r -> { }).build();
        assertThat(dead.toString()).contains("RELEASED", "ATOMIC", "count=0");
        assertThat(dead.released().toCompletableFuture()).isDone();
        assertThatThrownBy(dead::kill).isInstanceOf(IllegalStateException.class);
        dead.reinit();
        assertThat(dead.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
        assertThat(dead.released().toCompletableFuture()).isNotDone();
    }

    /** Cap and allowReinit survive the sequence wrapping (2^20 + 3 pairs: 2^21 + 6 steps) and lives. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 64, 1 << 16})
    @Timeout(20)
    void capAndAllowReinitSurviveTheSequenceWrap(int cap) {
        AtomicInteger releases = new AtomicInteger();
        PercpuRef ref = PercpuRef.builder().stripes(cap).allowReinit().onRelease(r -> releases.incrementAndGet()).build();
        PercpuRef plain = PercpuRef.builder().stripes(cap).onRelease(r -> { }).build();
        assertThat(ref.stripeCount()).isEqualTo(cap);
        for (int i = 0; i < (1 << 20) + 3; i++) {
            ref.switchToAtomicSync();
            ref.switchToPercpu();
            plain.switchToAtomicSync();
            plain.switchToPercpu();
        }
        assertThat(ref.stripeCount()).isEqualTo(cap);
        assertThat(plain.stripeCount()).isEqualTo(cap);
        ref.kill();
        assertThat(releases).hasValue(1);
        ref.reinit();
        assertThat(ref.stripeCount()).isEqualTo(cap);
        assertThat(ref.mode()).isEqualTo(PercpuRef.Mode.PERCPU);
        assertThat(ref.approximateCount()).isEqualTo(1);
        plain.kill();
        assertThatThrownBy(plain::reinit).isInstanceOf(IllegalStateException.class).hasMessageContaining("allowReinit");
        assertThat(plain.stripeCount()).isEqualTo(cap);
    }

    /** Many threads' first control ops on one fresh ref race to make the lock: one lock, every stage completes. */
    @Test
    @Timeout(20)
    void racingFirstControlOpsShareOneLock() throws Exception {
        int threads = 6;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 2_000; round++) {
                AtomicInteger releases = new AtomicInteger();
                PercpuRef ref = round % 2 == 0
                        ? PercpuRef.builder().onRelease(r -> releases.incrementAndGet()).build()
                        : PercpuRef.builder().initAtomic().onRelease(r -> releases.incrementAndGet()).build();
                CyclicBarrier barrier = new CyclicBarrier(threads);
                List<CompletableFuture<CompletionStage<Void>>> stages = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int me = t;
                    stages.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            barrier.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        if (me == 0) {
                            if (ref.mode() == PercpuRef.Mode.ATOMIC) {
                                ref.put(); // putToZero makes the lock
                            } else {
                                ref.kill();
                            }
                            return null;
                        }
                        if (me == 1) {
                            ref.approximateCount(0);
                        }
                        return ref.released();
                    }, pool));
                }
                for (CompletableFuture<CompletionStage<Void>> f : stages) {
                    CompletionStage<Void> s = f.get(5, TimeUnit.SECONDS);
                    if (s != null) {
                        s.toCompletableFuture().get(5, TimeUnit.SECONDS);
                    }
                }
                assertThat(releases).as("round %d", round).hasValue(1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Each hook alone, and none: confirm before release, reporter gets the over-put, executor runs both. */
    @ParameterizedTest
    @ValueSource(strings = {"none", "confirm", "executor", "reporter", "all"})
    @Timeout(20)
    void eachHookAloneBehaves(String which) throws Exception {
        ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
        List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
        List<PercpuRefException> globally = new CopyOnWriteArrayList<>();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        PercpuRef.setErrorReporter(globally::add);
        try {
            PercpuRef.Builder b = PercpuRef.builder().onRelease(r -> order.add("release"));
            if (which.equals("confirm") || which.equals("all")) {
                b.onConfirmKill(r -> order.add("confirm"));
            }
            if (which.equals("executor") || which.equals("all")) {
                b.callbackExecutor(executor);
            }
            if (which.equals("reporter") || which.equals("all")) {
                b.errorReporter(reported::add);
            }
            PercpuRef ref = b.build();
            ref.put(); // over-put in per-CPU mode: found at the kill
            CompletionStage<Void> killed = ref.kill(r -> order.add("kill-confirm"));
            killed.toCompletableFuture().get(5, TimeUnit.SECONDS);
            ref.released().toCompletableFuture().get(5, TimeUnit.SECONDS);
            List<String> expected = new ArrayList<>();
            if (which.equals("confirm") || which.equals("all")) {
                expected.add("confirm");
            }
            expected.add("kill-confirm");
            expected.add("release");
            assertThat(order).containsExactlyElementsOf(expected);
            boolean own = which.equals("reporter") || which.equals("all");
            assertThat(own ? reported : globally).hasSize(1);
            assertThat(own ? globally : reported).isEmpty();
            assertThat((own ? reported : globally).get(0).getMessage()).contains("over-put");
        } finally {
            PercpuRef.resetErrorReporter();
            executor.shutdownNow();
        }
    }
}
