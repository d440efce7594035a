package io.percpuref.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Randomized stress: worker threads do random get/get(n)/tryGet/tryGetLive/put/put(n) on one
 * shared {@code allowReinit} ref while a controller kills it, resurrects it with holders, lets it
 * drain to release and reinits or resurrects it from zero. Workers also hand references off to
 * each other through a shared queue, so a reference taken on one thread's stripe is put on
 * another's; one configuration runs the callbacks on an executor thread.
 *
 * <p>Asserts SPEC §3.3.1: release exactly once per life (counted at each drain), never while a
 * reference is held (checked inside the release callback), and a count of exactly zero at the end;
 * and §3.3.3: a tryGetLive that starts after kill() returned never succeeds. Runs for
 * {@code -Dpercpuref.stress.seconds} per stripe setting (3 s in CI); see docs/semantics.md for the
 * long run.
 */
class PercpuRefStressTest {

    private static final int WORKERS = 4;
    private static final int MAX_HELD = 16;

    @ParameterizedTest(name = "stripes={0}, callback executor={1}")
    @CsvSource({"1, false", "2, false", "16, false", "16, true"})
    void releaseRunsExactlyOncePerLifeAndNeverWhileHeld(int stripes, boolean onExecutor) throws Exception {
        ExecutorService callbacks = onExecutor ? Executors.newSingleThreadExecutor() : null;
        StressRun run = new StressRun("stress-" + stripes + (onExecutor ? "-executor" : ""), stripes, callbacks);
        ConcurrentLinkedQueue<Long> handedOff = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        KillEpoch killEpoch = new KillEpoch();
        ExecutorService pool = Executors.newFixedThreadPool(WORKERS);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            int id = w;
            workers.add(pool.submit(() -> work(run, id, stop, killEpoch, start, handedOff)));
        }

        int lives = 1;
        long deadline = System.nanoTime() + StressRun.duration().toNanos();
        SplittableRandom random = new SplittableRandom(stripes);
        start.countDown();
        try {
            while (System.nanoTime() < deadline) {
                spin(random.nextInt(2_000));
                if (random.nextBoolean()) {
                    // kill with a pin held, then resurrect: holders keep their references, same life
                    run.ref.get();
                    run.ref.kill();
                    killEpoch.killReturned();
                    spin(random.nextInt(2_000));
                    killEpoch.comingBack();
                    run.ref.resurrect();
                    run.ref.put();
                } else {
                    // kill and let it drain: exactly one more release, then a new life
                    CompletionStage<Void> released = run.ref.released();
                    run.ref.kill();
                    killEpoch.killReturned();
                    released.toCompletableFuture().get(30, TimeUnit.SECONDS);
                    assertThat(run.releases).as("releases after %d lives", lives).hasValue(lives);
                    killEpoch.comingBack();
                    if (random.nextBoolean()) {
                        run.ref.reinit();
                    } else {
                        run.ref.resurrect();
                    }
                    lives++;
                }
            }
        } finally {
            stop.set(true);
            for (Future<?> f : workers) {
                f.get(60, TimeUnit.SECONDS);
            }
            pool.shutdownNow();
        }
        for (Long n = handedOff.poll(); n != null; n = handedOff.poll()) {
            putHeld(run, n); // references handed off and never taken over: put on this thread
        }

        run.ref.kill();
        if (callbacks != null) {
            run.ref.released().toCompletableFuture().get(30, TimeUnit.SECONDS);
            callbacks.shutdown();
        }
        assertThat(run.violationList()).isEmpty();
        assertThat(run.releases).as(run.summary(lives)).hasValue(lives);
        assertThat(run.ref.isZero()).isTrue();
        assertThat(run.ref.approximateCount()).isZero();
        assertThat(run.acquisitions.get()).isPositive();
    }

    private static void work(StressRun run, int id, AtomicBoolean stop, KillEpoch killEpoch,
                             CountDownLatch start, ConcurrentLinkedQueue<Long> handedOff) {
        awaitStart(start);
        SplittableRandom random = new SplittableRandom(id * 7919L);
        long[] mine = new long[MAX_HELD]; // references held, each entry the n it was taken with
        int top = 0;
        while (!stop.get()) {
            int op = random.nextInt(8);
            if (op == 6 && top > 0) {
                handedOff.add(mine[--top]); // still counted in run.held: whoever takes it puts it
                continue;
            }
            if (op == 7 && top < MAX_HELD) {
                Long n = handedOff.poll();
                if (n != null) {
                    mine[top++] = n;
                }
                continue;
            }
            if (op <= 2 && top < MAX_HELD) {
                long n = op == 2 ? 1 + random.nextInt(3) : 1;
                boolean got;
                if (op == 0) {
                    long before = killEpoch.read();
                    got = run.ref.tryGetLive();
                    if (got && KillEpoch.isKilled(before) && killEpoch.read() == before) {
                        run.violations.add("tryGetLive succeeded after kill() returned");
                    }
                } else if (op == 1) {
                    got = run.ref.tryGet(n);
                } else if (top > 0) {
                    run.ref.get(n); // allowed: this thread already holds a reference
                    got = true;
                } else {
                    got = run.ref.tryGet(n);
                }
                if (got) {
                    mine[top++] = n;
                    for (long i = 0; i < n; i++) {
                        run.acquired();
                    }
                }
            } else if (top > 0 && op < 6) {
                putHeld(run, mine[--top]);
            }
        }
        while (top > 0) {
            putHeld(run, mine[--top]);
        }
    }

    /** Puts {@code n} references taken together, after taking them out of the held count. */
    private static void putHeld(StressRun run, long n) {
        for (long i = 0; i < n; i++) {
            run.releasing();
        }
        if (n == 1) {
            run.ref.put();
        } else {
            run.ref.put(n);
        }
    }

    private static void awaitStart(CountDownLatch start) {
        try {
            start.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void spin(int iterations) {
        for (int i = 0; i < iterations; i++) {
            Thread.onSpinWait();
        }
    }
}
