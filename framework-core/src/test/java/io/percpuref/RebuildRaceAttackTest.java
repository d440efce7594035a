package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Probe (expected to pass): table rebuilds (new threads colliding on a small, growing table) racing
 * kill, tryGetLive, approximateCount and large adds that bypass the slots. Each round uses a fresh
 * ref and fresh threads (fresh keys, so the table is rebuilt during the round), and kills it at a
 * random moment while the rebuilds run. Checked: a tryGetLive that starts after kill() returned
 * fails; release runs once, only when nothing is held; approximateCount never leaves [0, bound]
 * (a bias or a half-moved table would be far outside); nothing is reported.
 */
class RebuildRaceAttackTest {

    /** A large add (2^32), and one more: on f48da9b the second went to the atomic counter. */
    private static final long LARGE = 1L << 32;

    private static final int WORKERS = 6;
    private static final long BOUND = 1 + WORKERS * 4L + WORKERS * (LARGE + 1);

    @Test
    @Timeout(60)
    void rebuildsRacingKillLoseNothingAndKillStaysLinearizable() throws Exception {
        AtomicReference<String> violation = new AtomicReference<>();
        List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
        long deadline = System.nanoTime() + 8_000_000_000L;
        int rounds = 0;
        int grown = 0;
        while (System.nanoTime() < deadline && violation.get() == null) {
            rounds++;
            AtomicLong held = new AtomicLong();
            AtomicInteger releases = new AtomicInteger();
            int cap = 1 << ThreadLocalRandom.current().nextInt(1, 4);   // 2, 4 or 8 stripes
            PercpuRef ref = PercpuRef.builder().name("rebuild-race").stripes(cap)
                    .onRelease(r -> {
                        releases.incrementAndGet();
                        if (held.get() != 0) {
                            violation.compareAndSet(null, "released while " + held.get() + " held");
                        }
                    })
                    .errorReporter(reported::add).build();
            ref.inflate();
            AtomicBoolean killed = new AtomicBoolean();
            AtomicBoolean killing = new AtomicBoolean();
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                int kind = w;
                Thread t = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    while (!stop.get()) {
                        boolean afterKill = killed.get();
                        if (ref.tryGetLive()) {
                            held.incrementAndGet();
                            if (afterKill) {
                                violation.compareAndSet(null, "tryGetLive succeeded after kill() returned");
                            }
                            long n = kind % 3 == 0 ? LARGE + random.nextInt(2) : 1 + random.nextInt(3);
                            if (ref.tryGet(n)) {                       // slot or atomic, as n falls
                                held.addAndGet(n);
                                held.addAndGet(-n);
                                ref.put(n);
                            }
                            held.decrementAndGet();
                            ref.put();
                        } else if (!killing.get()) {
                            violation.compareAndSet(null, "tryGetLive failed on a live ref");
                        }
                    }
                });
                threads.add(t);
                t.start();
            }
            Thread reader = new Thread(() -> {
                while (!stop.get()) {
                    long c = ref.approximateCount();
                    if (c < 0 || c > BOUND) {
                        violation.compareAndSet(null, "approximateCount " + c);
                    }
                }
            });
            reader.start();
            start.countDown();
            long until = System.nanoTime() + ThreadLocalRandom.current().nextLong(50_000, 2_000_000);
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            killing.set(true);
            ref.kill();
            killed.set(true);
            Thread.sleep(0, 200_000);
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            reader.join();
            grown += ref.tableStripes() > PercpuRef.FIRST_TABLE ? 1 : 0;
            if (releases.get() != 1) {
                violation.compareAndSet(null, "releases " + releases.get() + " at the end of round " + rounds
                        + ", count " + ref.approximateCount() + ", table " + ref.tableStripes());
            }
        }
        assertThat(violation.get()).as("after %d rounds", rounds).isNull();
        assertThat(reported).isEmpty();
        System.err.println("RebuildRaceAttackTest: " + rounds + " rounds, " + grown + " with a grown table");
        assertThat(grown).as("rounds whose table grew (rebuilds happened)").isPositive();
    }
}
