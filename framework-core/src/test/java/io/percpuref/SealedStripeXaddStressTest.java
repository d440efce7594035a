package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial stress of the one-{@code getAndAdd} stripe fast path: workers get and put (also
 * {@code get(n)}/{@code put(n)} and references handed from one stripe to another) on an inflated
 * two-stripe ref while a controller cycles it between per-CPU and atomic mode as fast as it can, or
 * kills and resurrects it. Adds that land on a sealed stripe are garbage there; a worker may be
 * descheduled between its add on a sealed stripe and its atomic fallback across any number of
 * seal/unseal cycles. Checked: every atomic-mode count read by the controller is exact to within the
 * references the workers can hold (garbage or a leftover bias would be far outside), release never
 * runs while a reference is held, the final count is exact, and nothing is reported (a miscount shows
 * as an over-put when a later switch folds the stripes).
 */
class SealedStripeXaddStressTest {

    private static final int WORKERS = 4;
    /** At most this many references held by one worker at a time (including hand-offs it took). */
    private static final int MAX_HELD = 8;
    /** At most this many references handed off and not taken over. */
    private static final long MAX_POOL = 16;
    /** The largest count the workers can make: the initial reference, all they hold, the pool. */
    private static final long BOUND = 1 + (long) WORKERS * MAX_HELD + MAX_POOL;
    private static final long RUN_NANOS = 2_000_000_000L;

    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
    private final AtomicInteger releases = new AtomicInteger();
    /** References the workers hold (incremented after a successful get, decremented before the put). */
    private final AtomicLong held = new AtomicLong();
    /** References handed off and not yet taken over. */
    private final AtomicLong pool = new AtomicLong();
    private final AtomicReference<String> violation = new AtomicReference<>();

    private void violate(String what) {
        violation.compareAndSet(null, what);
    }

    /**
     * Switch cycles (switchToAtomicSync / switchToPercpu) under get/put churn with hand-offs. In
     * atomic mode the controller reads the exact count: 1 (initial) + held + pool, within the range
     * the workers can move while it reads.
     */
    @Test
    @Timeout(30)
    void switchCyclesUnderChurnNeverCountGarbage() throws Exception {
        PercpuRef ref = PercpuRef.builder()
                .name("xadd-switch")
                .stripes(2)
                .onRelease(r -> {
                    releases.incrementAndGet();
                    violate("released while live (held=" + held.get() + ")");
                })
                .errorReporter(reported::add)
                .build();
        ref.inflate();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = startWorkers(ref, stop, false);
        long cycles = 0;
        long deadline = System.nanoTime() + RUN_NANOS;
        long bound = BOUND;
        while (System.nanoTime() < deadline && violation.get() == null) {
            ref.switchToAtomicSync();
            long c = ref.approximateCount();
            if (c < 1 || c > bound) {
                violate("atomic-mode count " + c + " outside [1, " + bound + "] after " + cycles + " cycles");
            }
            long a = ref.atomicPart();
            if (a < 1 || a > bound) {
                violate("atomic part " + a + " outside [1, " + bound + "] after " + cycles + " cycles");
            }
            ref.switchToPercpu();
            long p = ref.approximateCount();
            if (p < 0 || p > (1L << 40)) {
                violate("per-CPU approximate count " + p + " after " + cycles + " cycles");
            }
            cycles++;
        }
        stop.set(true);
        for (Thread t : workers) {
            t.join();
        }
        assertThat(violation.get()).isNull();
        assertThat(reported).as("reports (an over-put means a miscount)").isEmpty();
        assertThat(held.get()).isZero();
        ref.switchToAtomicSync();
        assertThat(ref.approximateCount()).as("exact count after %d cycles", cycles).isEqualTo(1 + pool.get());
        ref.switchToPercpu();
        if (pool.get() > 0) {
            ref.put(pool.get());
        }
        ref.kill();
        assertThat(releases).hasValue(1);
        assertThat(ref.isZero()).isTrue();
        assertThat(reported).isEmpty();
        assertThat(cycles).isGreaterThan(10);
    }

    /**
     * Kill / resurrect cycles under tryGetLive/get/put churn: after each kill the count read in
     * atomic mode is within [1, bound] (the initial reference is still held until the confirm,
     * which runs inline), release never runs while a worker holds a reference, and after the last
     * kill the ref releases exactly once with nothing reported.
     */
    @Test
    @Timeout(30)
    void killResurrectCyclesUnderChurnNeverCountGarbage() throws Exception {
        List<Runnable> confirms = new ArrayList<>();
        PercpuRef ref = PercpuRef.builder()
                .name("xadd-kill")
                .stripes(2)
                .allowReinit()
                .callbackExecutor(task -> {
                    synchronized (confirms) {
                        confirms.add(task);
                    }
                })
                .onRelease(r -> {
                    releases.incrementAndGet();
                    if (held.get() != 0 || pool.get() != 0) {
                        violate("released while held=" + held.get() + " pool=" + pool.get());
                    }
                })
                .errorReporter(reported::add)
                .build();
        ref.inflate();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = startWorkers(ref, stop, true);
        long cycles = 0;
        long deadline = System.nanoTime() + RUN_NANOS;
        long bound = BOUND;
        while (System.nanoTime() < deadline && violation.get() == null) {
            ref.kill();
            long c = ref.approximateCount();
            if (c < 1 || c > bound) {
                violate("dying count " + c + " outside [1, " + bound + "] after " + cycles + " cycles");
            }
            ref.resurrect(); // count +1: the kill's initial reference is still pending below
            // run the deferred confirm: it drops the killed life's initial reference (the life continues)
            runAll(confirms);
            long p = ref.approximateCount();
            if (p < 0 || p > (1L << 40)) {
                violate("per-CPU approximate count " + p + " after " + cycles + " cycles");
            }
            cycles++;
        }
        stop.set(true);
        for (Thread t : workers) {
            t.join();
        }
        assertThat(violation.get()).isNull();
        assertThat(reported).as("reports (an over-put means a miscount)").isEmpty();
        assertThat(releases).as("no release while the ref was resurrected each time").hasValue(0);
        ref.switchToAtomicSync();
        assertThat(ref.approximateCount()).as("exact count after %d cycles", cycles).isEqualTo(1 + pool.get());
        ref.switchToPercpu();
        ref.kill();
        runAll(confirms);
        if (pool.get() > 0) {
            long n = pool.getAndSet(0);
            ref.put(n);
        }
        runAll(confirms); // the release callback, queued on the same executor
        assertThat(releases).hasValue(1);
        assertThat(ref.isZero()).isTrue();
        assertThat(reported).isEmpty();
        assertThat(cycles).isGreaterThan(10);
    }

    private static void runAll(List<Runnable> tasks) {
        List<Runnable> copy;
        synchronized (tasks) {
            copy = new ArrayList<>(tasks);
            tasks.clear();
        }
        copy.forEach(Runnable::run);
    }

    private List<Thread> startWorkers(PercpuRef ref, AtomicBoolean stop, boolean live) {
        List<Thread> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            Thread t = new Thread(() -> work(ref, stop, live), "xadd-worker-" + w);
            t.start();
            workers.add(t);
        }
        return workers;
    }

    private void work(PercpuRef ref, AtomicBoolean stop, boolean live) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long mine = 0;
        try {
            while (!stop.get() && violation.get() == null) {
                int op = rnd.nextInt(8);
                if (mine == 0) {
                    if (live ? ref.tryGetLive() : ref.tryGet()) {
                        held.incrementAndGet();
                        mine = 1;
                    }
                    continue;
                }
                switch (op) {
                    case 0, 1 -> { // get more while holding one
                        if (mine < MAX_HELD - 2) {
                            long n = 1 + rnd.nextInt(2);
                            ref.get(n);
                            held.addAndGet(n);
                            mine += n;
                        }
                    }
                    case 2 -> { // hand one off to another stripe
                        long p = pool.get();
                        if (p < MAX_POOL && pool.compareAndSet(p, p + 1)) {
                            held.decrementAndGet();
                            mine--;
                        }
                    }
                    case 3 -> { // take one over
                        long p = pool.get();
                        if (p > 0 && mine < MAX_HELD && pool.compareAndSet(p, p - 1)) {
                            held.incrementAndGet();
                            mine++;
                        }
                    }
                    case 4 -> { // put several at once
                        long n = 1 + rnd.nextLong(mine);
                        held.addAndGet(-n);
                        mine -= n;
                        ref.put(n);
                    }
                    default -> {
                        held.decrementAndGet();
                        mine--;
                        ref.put();
                    }
                }
            }
        } catch (Throwable e) {
            violate("worker threw " + e);
        } finally {
            if (mine > 0) {
                held.addAndGet(-mine);
                pool.addAndGet(mine); // handed back: the test puts them at the end
            }
        }
    }
}
