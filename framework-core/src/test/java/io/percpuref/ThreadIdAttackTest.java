package io.percpuref;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Adversarial review of 3a37b75 (thread id from {@code Thread.threadId()} through a MethodHandle,
 * {@code getId()} on 17-18). The id only places a thread (base owner, stripe); whatever
 * {@code getId()} returns on 17-18 (0, the "unclaimed" owner value; one value for all; a new value
 * per call; negative), counts must stay exact and the release must run exactly once.
 */
class ThreadIdAttackTest {

    @Test
    void theCurrentThreadsIdIsNeverZero() throws Exception {
        assertThat(PercpuRef.currentThreadId()).isNotZero();
        AtomicLong other = new AtomicLong();
        Thread t = new Thread(() -> other.set(PercpuRef.currentThreadId()));
        t.start();
        t.join();
        assertThat(other.get()).isNotZero().isNotEqualTo(PercpuRef.currentThreadId());
    }

    /** getId() overrides: 0 = the unclaimed-owner value, MIN_VALUE, one shared id, and a fresh id per call. */
    @ParameterizedTest
    @ValueSource(strings = {"zero", "min", "shared", "perCall", "negativeOne"})
    @EnabledForJreRange(max = JRE.JAVA_18)
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void countsStayExactWhateverGetIdReturns(String kind) throws Exception {
        for (int round = 0; round < 50; round++) {
            AtomicLong releases = new AtomicLong();
            PercpuRef ref = PercpuRef.builder().name("ids-" + kind + "-" + round)
                    .onRelease(r -> releases.incrementAndGet()).build();
            AtomicLong sequence = new AtomicLong(1);
            int threads = 4;
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                boolean odd = (t & 1) == 1;
                Runnable body = () -> {
                    try {
                        start.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    for (int i = 0; i < 20_000; i++) {
                        ref.get();
                        ref.put();
                    }
                    ref.get(); // one left by every thread
                };
                Thread w = odd ? new Thread(body) : new Thread(body) {
                    @Override
                    @SuppressWarnings("deprecation")
                    public long getId() {
                        switch (kind) {
                            case "zero": return 0;
                            case "min": return Long.MIN_VALUE;
                            case "shared": return 7;
                            case "negativeOne": return -1;
                            default: return sequence.getAndIncrement();
                        }
                    }
                };
                w.start();
                workers.add(w);
            }
            for (Thread w : workers) {
                w.join();
            }
            assertThat(ref.approximateCount()).as("round %d", round).isEqualTo(1 + threads);
            ref.kill(); // drops the initial reference once confirmed
            ref.put(threads - 1);
            assertThat(releases.get()).as("round %d: release not yet, one reference is held", round).isZero();
            ref.put();
            ref.released().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertThat(releases.get()).isEqualTo(1);
        }
    }

    /**
     * Simulates, in process, what a real overflow inside the thread-id MethodHandle does (see
     * ScopedLeaseStackOverflowProbe for the real one): an Error raised while reading the id must
     * reach the caller as itself. currentThreadId() catches Throwable and wraps it in an
     * AssertionError, so a StackOverflowError or OutOfMemoryError from get()/put() is disguised.
     */
    @Test
    @EnabledForJreRange(max = JRE.JAVA_18)
    void anErrorWhileReadingTheThreadIdIsNotDisguisedAsAnAssertionError() throws Exception {
        PercpuRef ref = PercpuRef.builder().name("error-id").onRelease(r -> { }).build();
        Throwable[] thrown = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                ref.get();
            } catch (Throwable e) {
                thrown[0] = e;
            }
        }) {
            @Override
            @SuppressWarnings("deprecation")
            public long getId() {
                throw new StackOverflowError("simulated overflow at the id read");
            }
        };
        t.start();
        t.join();

        assertThat(thrown[0]).isInstanceOf(StackOverflowError.class);
        assertThat(ref.approximateCount()).isEqualTo(1);
    }
}
