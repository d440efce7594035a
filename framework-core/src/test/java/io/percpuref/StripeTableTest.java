package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The stripe table: it starts at {@value PercpuRef#FIRST_TABLE} stripes; a thread counts on the
 * stripe its key (thread id bits) times the table's multiplier points to and tags it as its own; a
 * thread that finds another's tag there has the table rebuilt with a multiplier that places every
 * tagged thread apart, doubled (up to the configured stripes) when the table has no room or no such
 * multiplier. What placement and growth must give: threads do not share a stripe while the cap
 * allows one each, whatever their ids; a ref two threads contended on keeps a table of two; and a
 * rebuild never loses or adds a reference.
 */
class StripeTableTest {

    private final AtomicInteger releases = new AtomicInteger();

    private PercpuRef ref(String name, int stripes) {
        return PercpuRef.builder().name(name).stripes(stripes).onRelease(r -> releases.incrementAndGet()).build();
    }

    @Test
    void twoThreadsCountOnTwoStripesOfATableOfTwo() throws Exception {
        PercpuRef ref = ref("two-threads", 64);
        ref.inflate();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            for (int round = 0; round < 2; round++) {         // the second round counts where the first placed them
                ref.get();
                other.submit(() -> ref.get()).get(10, TimeUnit.SECONDS);
                ref.put();
                other.submit(() -> ref.put()).get(10, TimeUnit.SECONDS);
            }
            ref.get();
            other.submit(() -> ref.get()).get(10, TimeUnit.SECONDS);
            int here = ref.stripeOffset();
            int there = other.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS);

            assertThat(here).isNotEqualTo(there);
            assertThat(ref.tableStripes()).isEqualTo(PercpuRef.FIRST_TABLE);
            assertThat(ref.approximateCount()).isEqualTo(3);
        } finally {
            other.shutdownNow();
        }
    }

    /**
     * Threads with scattered ids (pool threads created at different times) fall on stripes like
     * random ids: by their id bits alone a quarter to a third of them would share one (the check
     * below makes sure the ids chosen do collide so). With tags and rebuilds, no two threads that
     * count on the ref share a stripe once each has counted a few times, and the table is at most
     * twice the smallest power of two that holds them all.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 8, 16, 32})
    void threadsWithScatteredIdsDoNotShareAStripeOnceEachHasCounted(int threads) throws Exception {
        PercpuRef ref = ref("scattered-" + threads, 64);
        ref.inflate();
        Random random = new Random(threads);
        List<ExecutorService> pool = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        try {
            for (int i = 0; i < threads; i++) {
                for (int gap = random.nextInt(50); gap > 0; gap--) {
                    new Thread(() -> { });            // takes an id, as threads created in between do
                }
                ExecutorService executor;
                long id;
                do {                                  // every other thread: an id equal to the last one's mod 64
                    if (i % 2 == 1) {
                        long last = ids.get(i - 1);
                        while ((new Thread(() -> { }).getId() + 1 - last) % 64 != 0) {
                            Thread.onSpinWait();
                        }
                    }
                    executor = Executors.newSingleThreadExecutor();
                    id = executor.submit(() -> Thread.currentThread().getId()).get(10, TimeUnit.SECONDS);
                } while (i % 2 == 1 && (id - ids.get(i - 1)) % 64 != 0 && executor.shutdownNow() != null);
                pool.add(executor);
                ids.add(id);
            }
            for (int round = 0; round < 5; round++) {  // each thread counts, in turn: a warm-up
                for (ExecutorService executor : pool) {
                    executor.submit(() -> {
                        ref.get();
                        ref.put();
                    }).get(10, TimeUnit.SECONDS);
                }
            }
            Map<Integer, Integer> threadsPerStripe = new HashMap<>();
            for (ExecutorService executor : pool) {
                int stripe = executor.submit(ref::stripeOffset).get(10, TimeUnit.SECONDS);
                threadsPerStripe.merge(stripe, 1, Integer::sum);
            }

            int sharing = threadsPerStripe.values().stream().filter(n -> n > 1).mapToInt(n -> n).sum();
            assertThat(sharing).as("threads sharing a stripe, of %d", threads).isZero();
            assertThat(ref.tableStripes()).isBetween(threads, 2 * (Integer.highestOneBit(threads - 1) << 1));
            assertThat(idBitsShared(ids, ref.tableStripes()))
                    .as("threads whose id bits alone would share a stripe").isGreaterThanOrEqualTo(threads / 2);
            assertThat(ref.approximateCount()).isEqualTo(1);
        } finally {
            pool.forEach(ExecutorService::shutdownNow);
        }
    }

    /** How many of these thread ids share their low bits (id mod n, the placement before tags) with another. */
    private static int idBitsShared(List<Long> ids, int n) {
        Map<Long, Integer> perStripe = new HashMap<>();
        for (long id : ids) {
            perStripe.merge(id & (n - 1), 1, Integer::sum);
        }
        return perStripe.values().stream().filter(c -> c > 1).mapToInt(c -> c).sum();
    }

    @Test
    void atItsCapTheTableStopsGrowingAndThreadsShareTheirHomeStripe() throws Exception {
        PercpuRef ref = ref("capped", 2);
        ref.inflate();
        List<ExecutorService> pool = new ArrayList<>();
        try {
            for (int i = 0; i < 5; i++) {
                pool.add(Executors.newSingleThreadExecutor());
            }
            for (ExecutorService executor : pool) {
                executor.submit(() -> ref.get(3)).get(10, TimeUnit.SECONDS);
            }
            assertThat(ref.tableStripes()).isEqualTo(2);
            assertThat(ref.approximateCount()).isEqualTo(16);
            for (ExecutorService executor : pool) {
                executor.submit(() -> ref.put(3)).get(10, TimeUnit.SECONDS);
            }
            ref.kill();
            assertThat(releases).hasValue(1);
        } finally {
            pool.forEach(ExecutorService::shutdownNow);
        }
    }

    @Test
    void growthMovesEveryStripesCountIntoTheNewTable() throws Exception {
        PercpuRef ref = ref("grown", 16);
        ref.inflate();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            ref.get(5);
            other.submit(() -> ref.get(7)).get(10, TimeUnit.SECONDS);
            for (int expected = 4; expected <= 16; expected *= 2) {
                ref.growForTest();
                assertThat(ref.tableStripes()).isEqualTo(expected);
                assertThat(ref.approximateCount()).isEqualTo(13);
                ref.get();
                other.submit(() -> ref.put()).get(10, TimeUnit.SECONDS);
            }
            ref.growForTest();
            assertThat(ref.tableStripes()).as("capped").isEqualTo(16);

            ref.kill();
            ref.put(5);
            other.submit(() -> ref.put(7)).get(10, TimeUnit.SECONDS);
            assertThat(releases).hasValue(1);
        } finally {
            other.shutdownNow();
        }
    }

    /** A growth in atomic mode would move sealed values; it does nothing, and the switch back unseals. */
    @Test
    void noGrowthInAtomicModeAndTheSwitchBackUnsealsTheCurrentTable() {
        PercpuRef ref = ref("atomic-no-growth", 8);
        ref.inflate();
        ref.get(2);
        ref.switchToAtomicSync();
        ref.growForTest();
        assertThat(ref.tableStripes()).isEqualTo(2);
        ref.switchToPercpu();
        long atomic = ref.atomicPart();
        ref.get();
        assertThat(ref.atomicPart()).as("counted on an unsealed stripe").isEqualTo(atomic);
        ref.growForTest();
        assertThat(ref.atomicPart()).as("a rebuild moves the atomic part into the table").isEqualTo(PercpuRef.BIAS);
        ref.get();
        assertThat(ref.atomicPart()).as("counted on the grown table").isEqualTo(PercpuRef.BIAS);
        ref.put(4);
        ref.kill();
        assertThat(releases).hasValue(1);
    }

    /**
     * Threads count while the table grows under them (a sealed old stripe sends them to the new
     * table), new threads keep arriving and claiming, and switch cycles seal and unseal the current
     * table. At the end the count is exact and the ref releases once.
     */
    @Test
    void countsStayExactWhileTheTableGrowsUnderCountingThreadsAndSwitches() throws Exception {
        PercpuRef ref = ref("growing", 64);
        AtomicLong failures = new AtomicLong();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            Thread worker = new Thread(() -> {
                while (System.nanoTime() < deadline) {
                    ref.get();
                    ref.get(2);
                    ref.put();
                    ref.put(2);
                }
            });
            workers.add(worker);
            worker.start();
        }
        Thread switcher = new Thread(() -> {
            while (System.nanoTime() < deadline) {
                ref.switchToAtomicSync();
                ref.switchToPercpu();
                Thread.yield();
            }
        });
        switcher.start();
        int arrivals = 0;
        while (System.nanoTime() < deadline) {
            Thread arrival = new Thread(() -> {      // a new thread claims a stripe, or grows the table
                ref.get();
                if (ref.approximateCount() < 1) {
                    failures.incrementAndGet();
                }
                ref.put();
            });
            arrival.start();
            arrival.join();
            arrivals++;
            if (arrivals % 16 == 0) {
                ref.growForTest();
            }
        }
        for (Thread worker : workers) {
            worker.join();
        }
        switcher.join();

        assertThat(failures).hasValue(0);
        assertThat(ref.tableStripes()).isGreaterThan(PercpuRef.FIRST_TABLE);
        assertThat(ref.approximateCount()).isEqualTo(1);
        ref.kill();
        assertThat(releases).hasValue(1);
    }
}
